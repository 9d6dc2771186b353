"""Snakemake glue: one baseline on one task's splits (metrics.json and test predictions)."""

from _glue import run

from dnabert.lm.baselines import BaselineSettings, run_baseline, settings_dict
from dnabert.io import write_json
from dnabert.lm.evaluation import read_task, summarise_runs, write_predictions


def main() -> None:
    import torch

    torch.set_num_threads(snakemake.threads)
    name = snakemake.wildcards.baseline
    splits, n_classes = read_task({split: snakemake.input[split] for split in ("train", "dev", "test")})
    settings = BaselineSettings.from_config(snakemake.params.settings)
    metrics, probs, info = run_baseline(name, splits, n_classes, settings, snakemake.params.seeds)
    write_predictions(snakemake.output.predictions, splits["test"], probs)
    summary = summarise_runs(
        metrics,
        task=snakemake.wildcards.task,
        model=name,
        headline=snakemake.params.headline,
        n_classes=n_classes,
        settings=settings_dict(settings, name),
        info=info,
    )
    write_json(snakemake.output.metrics, summary)


run(snakemake, main)
