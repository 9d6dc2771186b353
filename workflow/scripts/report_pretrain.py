"""Snakemake glue: the report's pretraining table (held-out MLM metrics, throughput, model size)."""

from _glue import run

from dnabert.html import read_tsv
from dnabert.io import read_json
from dnabert.report.stages import write_pretrain_page


def main() -> None:
    history = read_tsv(snakemake.input.history, delimiter=",")
    write_pretrain_page(snakemake.output[0], read_json(snakemake.input.metrics), history)


run(snakemake, main)
