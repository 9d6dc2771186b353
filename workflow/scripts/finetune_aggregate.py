"""Snakemake glue: a task's metrics.json from its per-seed fine-tuning runs (mean ± sd)."""

from _glue import run

from dnabert.io import read_json, write_json
from dnabert.lm.evaluation import MODEL_NAMES, summarise_runs


def main() -> None:
    runs = {}
    for path in snakemake.input:
        data = read_json(path)
        runs[str(data["seed"])] = data
    first = next(iter(runs.values()))
    summary = summarise_runs(
        {seed: data["test"] for seed, data in runs.items()},
        task=snakemake.wildcards.task,
        model=MODEL_NAMES[first["init"]],
        headline=first["headline"],
        init=first["init"],
        encoder=first["encoder"],
        seeds=[int(seed) for seed in runs],
        best={seed: {"step": data["best"]["step"], "epoch": data["best"]["epoch"]} for seed, data in runs.items()},
        dev={seed: data["best"].get("dev", {}) for seed, data in runs.items()},
    )
    write_json(snakemake.output[0], summary)


run(snakemake, main)
