"""Snakemake glue: fetch a Hugging Face Hub model through the Hub cache into resources/models/<org--name>/."""

from _glue import run

from dnabert.lm.hub import fetch_model


def main() -> None:
    fetch_model(snakemake.params.reference, snakemake.output[0])


run(snakemake, main)
