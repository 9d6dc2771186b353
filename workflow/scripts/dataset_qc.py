"""Snakemake glue: QC of one task dataset (counts, GC/length summaries, leakage checks, GC plot)."""

from _glue import run

from dnabert.data.qc import dataset_qc


def main() -> None:
    dataset_qc(snakemake.wildcards.task, dict(snakemake.input.items()), dict(snakemake.output.items()))


run(snakemake, main)
