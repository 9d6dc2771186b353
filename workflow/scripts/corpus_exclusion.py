"""Snakemake glue: every task's test intervals as one BED, cut out of the pretraining corpus."""

from _glue import run

from dnabert.data.holdout import write_test_intervals


def main() -> None:
    write_test_intervals(dict(zip(snakemake.params.tasks, snakemake.input)), snakemake.output[0])


run(snakemake, main)
