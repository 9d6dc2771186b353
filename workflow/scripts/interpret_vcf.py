"""Snakemake glue: score a VCF's SNVs with a task's fine-tuned model, checking REF against the genome."""

from _glue import run

from dnabert.interpret.variants.vcf import score_vcf_file


def main() -> None:
    score_vcf_file(
        snakemake.input.model,
        snakemake.input.vcf,
        snakemake.input.fasta,
        snakemake.output[0],
        window=snakemake.params.window,
        on_mismatch=snakemake.params.on_mismatch,
        device=snakemake.params.device,
        threads=snakemake.threads,
        progress=False,
    )


run(snakemake, main)
