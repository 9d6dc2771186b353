"""Snakemake glue: one engine's motifs from one seed's scores (attention or TF-MoDISco), then TOMTOM against JASPAR."""

import os
from pathlib import Path

from _glue import run

# numba reads its cache folder when it is first imported: memelite's and modisco-lite's
# compiled kernels are kept there, so only the first job of a fresh environment compiles.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(snakemake.params.numba_cache).resolve()))

from dnabert.interpret.settings import InterpretSettings  # noqa: E402
from dnabert.interpret.stage import MotifOutputs, motifs_task  # noqa: E402


def main() -> None:
    output = snakemake.output
    motifs_task(
        snakemake.wildcards.engine,
        snakemake.input.scores,
        InterpretSettings.from_config(snakemake.params.settings, seed=snakemake.params.seed),
        MotifOutputs(output.meme, output.summary, output.instances, output.bed, output.logos, output.tomtom,
                     output.matches, output.page),
        title=f"{snakemake.wildcards.task} seed {snakemake.wildcards.seed}, {snakemake.wildcards.engine}",
        threads=snakemake.threads,
    )


run(snakemake, main)
