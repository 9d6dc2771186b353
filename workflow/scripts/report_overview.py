"""Snakemake glue: the report's overview page (configuration, inputs with checksums, versions, commit)."""

from _glue import run

from dnabert.report.provenance import write_overview_page


def main() -> None:
    inputs = dict(zip(snakemake.params.names, snakemake.input.files))
    write_overview_page(snakemake.output[0], snakemake.config, configfiles=snakemake.params.configfiles,
                        inputs=inputs, workflow_dir=snakemake.params.workflow_dir,
                        snakemake_version=snakemake.params.snakemake_version)


run(snakemake, main)
