"""Snakemake glue: one learning-curve point (task, model, training fraction) aggregated over seeds."""

from _glue import run

from dnabert.io import read_json, write_json
from dnabert.lm.evaluation import MODEL_NAMES
from dnabert.lm.learning_curve import count_rows, curve_point


def main() -> None:
    runs = list(snakemake.input.runs)
    init = read_json(runs[0]).get("init")  # BERT runs: the name by init (dnabert, bert_scratch, ...)
    point = curve_point(
        runs,
        snakemake.params.seeds,
        task=snakemake.wildcards.task,
        model=MODEL_NAMES.get(init, snakemake.wildcards.model),
        headline=snakemake.params.headline,
        fraction=float(snakemake.wildcards.frac),
        train_sequences=count_rows(snakemake.input.train),
    )
    write_json(snakemake.output[0], point)


run(snakemake, main)
