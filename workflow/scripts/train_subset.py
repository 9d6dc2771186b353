"""Snakemake glue: a seeded, stratified subset of one task's training split (learning curves)."""

from _glue import run

from dnabert.lm.learning_curve import write_train_subset


def main() -> None:
    write_train_subset(snakemake.input[0], snakemake.output[0], float(snakemake.wildcards.frac),
                       int(snakemake.wildcards.seed), snakemake.wildcards.task)


run(snakemake, main)
