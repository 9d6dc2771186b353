"""Snakemake glue: fine-tune one task with one seed and evaluate the best dev checkpoint on test."""

from pathlib import Path

from _glue import run

from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune


def main() -> None:
    settings = FinetuneSettings.from_config(snakemake.params.settings)
    outputs = RunOutputs(
        metrics=Path(snakemake.output.metrics),
        predictions=Path(snakemake.output.predictions),
        history=Path(snakemake.output.history),
        model=Path(snakemake.output.model),
    )
    finetune(
        settings,
        {split: snakemake.input[split] for split in ("train", "dev", "test")},
        outputs,
        k=snakemake.params.kmer,
        seed=int(snakemake.wildcards.seed),
        model_dir=snakemake.input.get("encoder"),
        task=snakemake.wildcards.task,
        device=snakemake.params.device,
        threads=snakemake.threads,
        progress=False,
    )


run(snakemake, main)
