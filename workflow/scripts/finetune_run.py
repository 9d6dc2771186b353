"""Snakemake glue: fine-tune one task with one seed (the first seed of a grid picks the learning rate on dev)."""

from pathlib import Path

from _glue import run

from dnabert.lm.finetune import RunOutputs
from dnabert.lm.lr_search import finetune_seed


def main() -> None:
    outputs = RunOutputs(
        metrics=Path(snakemake.output.metrics),
        predictions=Path(snakemake.output.predictions),
        history=Path(snakemake.output.history),
        model=Path(snakemake.output.model),
    )
    finetune_seed(
        snakemake.params.settings,
        snakemake.params.lr_grid,
        {split: snakemake.input[split] for split in ("train", "dev", "test")},
        outputs,
        snakemake.output.lr,
        seed=int(snakemake.wildcards.seed),
        first_seed=int(snakemake.params.first_seed),
        choice_file=snakemake.input.get("lr_choice"),
        k=snakemake.params.kmer,
        model_dir=snakemake.input.get("encoder"),
        task=snakemake.wildcards.task,
        device=snakemake.params.device,
        threads=snakemake.threads,
        progress=False,
    )


run(snakemake, main)
