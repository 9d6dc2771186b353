"""Snakemake glue: the report's page for one task dataset (counts, composition, leakage checks)."""

from _glue import run

from dnabert.report.pages import dataset_html, write_html


def main() -> None:
    task = snakemake.wildcards.task
    body = dataset_html(task, snakemake.input.counts, snakemake.input.composition, snakemake.input.summary)
    write_html(snakemake.output[0], f"Dataset {task}", body)


run(snakemake, main)
