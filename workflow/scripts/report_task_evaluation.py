"""Snakemake glue: ROC/precision-recall curves and confusion matrices of one task's models on test."""

from _glue import run

from dnabert.io import read_json
from dnabert.report.figures import class_names, model_predictions, plot_confusion, plot_curves


def main() -> None:
    task = snakemake.wildcards.task
    finetuned = read_json(snakemake.input.metrics).get("model", "dnabert")
    files = {finetuned: list(snakemake.input.finetuned)}
    files.update({name: list(snakemake.input[name]) for name in snakemake.params.baselines})
    models = model_predictions(files)
    n_classes = max(probs.shape[1] for runs in models.values() for _, probs in runs.values())
    plot_curves(models, snakemake.output.curves, title=f"{task}: test split")
    plot_confusion(models, snakemake.output.confusion, class_names(snakemake.params.task_type, n_classes),
                   title=f"{task}: test split")


run(snakemake, main)
