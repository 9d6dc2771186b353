"""Snakemake glue: sort, clip and merge the blacklist to the prepared genome."""

from _glue import run

from dnabert.data.genome import prepare_bed_mask, read_chrom_sizes


def main() -> None:
    sizes = read_chrom_sizes(snakemake.input.sizes)
    prepare_bed_mask(snakemake.input.bed, snakemake.output[0], sizes)


run(snakemake, main)
