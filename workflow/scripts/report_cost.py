"""Snakemake glue: run time and memory per rule from the benchmark files (table, TSV, figure)."""

from _glue import run

from dnabert.report.pages import benchmark_records, cost_by_rule, cost_html, plot_cost, write_cost_tsv, write_html


def main() -> None:
    records = benchmark_records(snakemake.params.patterns)
    write_cost_tsv(snakemake.output.tsv, cost_by_rule(records))
    write_html(snakemake.output.table, "Run cost: time and memory per rule", cost_html(records))
    plot_cost(records, snakemake.output.plot)


run(snakemake, main)
