"""Snakemake glue: score sequences (FASTA, or BED on the workflow's genome) with a fine-tuned model."""

from _glue import run

from dnabert.lm.predict import predict_file


def main() -> None:
    predict_file(
        snakemake.input.model,
        snakemake.output[0],
        fasta=snakemake.input.get("fasta"),
        bed=snakemake.input.get("bed"),
        genome=snakemake.input.get("genome"),
        aggregate=snakemake.params.aggregate,
        device=snakemake.params.device,
        threads=snakemake.threads,
    )


run(snakemake, main)
