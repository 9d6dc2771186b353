"""Snakemake glue: the report's overview page (configuration, inputs with checksums, versions, commit)."""

from _glue import run

from dnabert.report.pages import overview_html, write_html


def main() -> None:
    inputs = dict(zip(snakemake.params.names, snakemake.input.files))
    body = overview_html(snakemake.config, configfiles=snakemake.params.configfiles, inputs=inputs,
                         workflow_dir=snakemake.params.workflow_dir,
                         snakemake_version=snakemake.params.snakemake_version)
    write_html(snakemake.output[0], f"Run overview: {snakemake.config['genome']['name']}", body)


run(snakemake, main)
