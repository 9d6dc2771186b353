"""Snakemake glue: run time and memory per rule from the benchmark files (table, TSV, figure)."""

from _glue import run

from dnabert.report.cost import benchmark_records, cost_by_rule, plot_cost, write_cost_page, write_cost_tsv


def main() -> None:
    records = benchmark_records(snakemake.params.patterns)
    write_cost_tsv(snakemake.output.tsv, cost_by_rule(records))
    write_cost_page(snakemake.output.table, records)
    plot_cost(records, snakemake.output.plot)


run(snakemake, main)
