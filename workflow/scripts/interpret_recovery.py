"""Snakemake glue: was every motif planted in the simulated genome recovered, per seed and engine?"""

from _glue import run

from dnabert.interpret.recovery import recovery


def main() -> None:
    runs = {(task, int(seed), engine): path for (task, seed, engine), path in zip(snakemake.params.runs, snakemake.input)}
    recovery(
        snakemake.params.planted,
        runs,
        snakemake.params.qvalue,
        snakemake.output.table,
        page_out=snakemake.output.page,
    )


run(snakemake, main)
