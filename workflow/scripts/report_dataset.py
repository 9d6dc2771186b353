"""Snakemake glue: the report's page for one task dataset (counts, composition, leakage checks)."""

from _glue import run

from dnabert.report.stages import write_dataset_page


def main() -> None:
    write_dataset_page(snakemake.output[0], snakemake.wildcards.task, snakemake.input.counts,
                       snakemake.input.composition, snakemake.input.summary,
                       corpus_overlap=snakemake.input.get("corpus_overlap"))


run(snakemake, main)
