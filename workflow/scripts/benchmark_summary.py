"""Snakemake glue: one table (and plot) of every task's fine-tuned model and baselines."""

from _glue import run

from dnabert.report.benchmarks import benchmark_table, plot_table, write_table


def main() -> None:
    rows = benchmark_table(list(snakemake.input))
    write_table(snakemake.output.table, rows)
    plot_table(snakemake.output.plot, rows)


run(snakemake, main)
