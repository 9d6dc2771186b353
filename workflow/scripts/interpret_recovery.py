"""Snakemake glue: was every motif planted in the simulated genome recovered?"""

from pathlib import Path

from _glue import run

from dnabert.interpret.stage import recovery


def main() -> None:
    tomtom = {Path(path).parent.name: path for path in snakemake.input}
    recovery(
        snakemake.params.planted,
        tomtom,
        snakemake.params.qvalue,
        snakemake.output.table,
        page_out=snakemake.output.page,
    )


run(snakemake, main)
