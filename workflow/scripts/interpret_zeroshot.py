"""Snakemake glue: zero-shot scores of a VCF's SNVs from the pretrained masked LM, REF checked."""

from _glue import run

from dnabert.interpret.variants.zeroshot import zeroshot_file


def main() -> None:
    zeroshot_file(
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
