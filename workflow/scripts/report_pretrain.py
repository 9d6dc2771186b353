"""Snakemake glue: the report's pretraining table (held-out MLM metrics, throughput, model size)."""

from _glue import run

from dnabert.io import read_json
from dnabert.report.stages import write_pretrain_page


def main() -> None:
    write_pretrain_page(snakemake.output[0], read_json(snakemake.input[0]))


run(snakemake, main)
