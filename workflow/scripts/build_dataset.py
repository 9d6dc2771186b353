"""Snakemake glue: build one task's train/dev/test datasets."""

from _glue import run

from dnabert.data.datasets import build_dataset

# Inputs that are not the task's own files.
_GENOME_KEYS = {"fasta", "fai", "gzi", "sizes", "blacklist"}


def main() -> None:
    inputs = dict(snakemake.input.items())
    files = {key: path for key, path in inputs.items() if key not in _GENOME_KEYS}
    build_dataset(
        snakemake.wildcards.task,
        snakemake.params.settings,
        files,
        snakemake.params.splits,
        dict(snakemake.output.items()),
        genome=inputs.get("fasta"),
        blacklist=inputs.get("blacklist"),
    )


run(snakemake, main)
