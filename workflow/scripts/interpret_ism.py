"""Snakemake glue: in-silico mutagenesis of a task's top-scoring test positives."""

from _glue import run

from dnabert.interpret.variants.mutagenesis import ism_file


def main() -> None:
    ism_file(
        snakemake.input.model,
        snakemake.output.table,
        snakemake.output.plot,
        dataset=snakemake.input.test,
        top=snakemake.params.top,
        device=snakemake.params.device,
        threads=snakemake.threads,
        progress=False,
    )


run(snakemake, main)
