"""Snakemake glue: the report's table of test metrics (mean ± sd over seeds) of every task and model."""

from _glue import run

from dnabert.report.pages import benchmark_html, write_html


def main() -> None:
    write_html(snakemake.output[0], "Test metrics of every task and model", benchmark_html(snakemake.input[0]))


run(snakemake, main)
