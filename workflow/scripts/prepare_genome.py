"""Snakemake glue: normalise the acquired FASTA to bgzip + .fai/.gzi + chrom.sizes."""

from _glue import run

from dnabert.data.genome import ChromosomeFilter, normalise_fasta, write_chrom_sizes


def main() -> None:
    chromosomes = snakemake.params.chromosomes
    include = chromosomes["include"]
    keep = ChromosomeFilter(
        include=tuple(include) if include is not None else None,
        exclude_regex=chromosomes["exclude_regex"],
    )
    lengths = normalise_fasta(snakemake.input[0], snakemake.output.fasta, keep)
    write_chrom_sizes(lengths, snakemake.output.sizes)


run(snakemake, main)
