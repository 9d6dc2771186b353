"""Snakemake glue: write the seeded demo genome, annotation, peaks and ground truth."""

from pathlib import Path

from _glue import run

from dnabert.data.simulate.generate import simulate
from dnabert.data.simulate.settings import SimulationSettings


def main() -> None:
    settings = SimulationSettings.from_config(snakemake.params.settings)
    simulate(settings, Path(snakemake.output.genome).parent)


run(snakemake, main)
