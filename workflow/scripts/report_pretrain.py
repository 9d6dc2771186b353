"""Snakemake glue: the report's pretraining table (held-out MLM metrics, throughput, model size)."""

from _glue import run

from dnabert.io import read_json
from dnabert.report.pages import pretrain_html, write_html


def main() -> None:
    write_html(snakemake.output[0], "Pretraining", pretrain_html(read_json(snakemake.input[0])))


run(snakemake, main)
