"""Snakemake glue: the report's table of test metrics (mean ± sd over seeds) of every task and model."""

from _glue import run

from dnabert.report.stages import write_metrics_page


def main() -> None:
    write_metrics_page(snakemake.output[0], snakemake.input[0])


run(snakemake, main)
