"""Snakemake glue: build the tokenised pretraining corpus of the prepared genome."""

from pathlib import Path

from _glue import run

from dnabert.lm.corpus import CorpusSettings, build_corpus


def main() -> None:
    options = snakemake.params.settings
    settings = CorpusSettings(
        k=int(snakemake.wildcards.k),
        min_length=options["min_length"],
        p_max_length=options["p_max_length"],
        coverage=options["coverage"],
        seed=options["seed"],
    )
    build_corpus(
        Path(snakemake.input.fasta),
        Path(snakemake.output[0]),
        settings,
        exclude=snakemake.params.exclude,
        progress=False,
        mask=snakemake.input.get("mask"),
    )


run(snakemake, main)
