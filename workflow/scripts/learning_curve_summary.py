"""Snakemake glue: every learning-curve point in one table and one plot."""

from _glue import run

from dnabert.lm.learning_curve import curve_table, plot_curves, write_curve_table


def main() -> None:
    rows = curve_table(list(snakemake.input))
    write_curve_table(snakemake.output.table, rows)
    plot_curves(snakemake.output.plot, rows)


run(snakemake, main)
