"""Snakemake glue: score a VCF's SNVs with a task's fine-tuned model in the task's windows, REF checked."""

from _glue import run

from dnabert.interpret.variants.vcf import score_vcf_file
from dnabert.interpret.variants.windows import windows_for_task


def main() -> None:
    files = {key: snakemake.input[key] for key in ("annotation", "train") if key in snakemake.input.keys()}
    score_vcf_file(
        snakemake.input.model,
        snakemake.input.vcf,
        snakemake.input.fasta,
        snakemake.output[0],
        placement=windows_for_task(snakemake.params.task, files),
        on_mismatch=snakemake.params.on_mismatch,
        device=snakemake.params.device,
        threads=snakemake.threads,
        progress=False,
    )


run(snakemake, main)
