"""Snakemake glue: the report's learning-curve page (test metric against training size)."""

from _glue import run

from dnabert.report.curves import write_curve_page


def main() -> None:
    write_curve_page(snakemake.output[0], snakemake.input[0])


run(snakemake, main)
