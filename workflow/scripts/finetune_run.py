"""Snakemake glue: fine-tune one task with one seed (the first seed of a grid picks the learning rate on dev).

Beside the declared outputs the run keeps ``checkpoints/`` while it runs (resumed by a rerun,
removed when it completes), ``tensorboard/`` and, with LoRA, ``adapter/``. Pre-empted by
SIGTERM/SIGUSR1, it checkpoints and exits with status 143, so ``--retries`` continues it.
"""

import logging
import sys
from dataclasses import replace
from pathlib import Path

from _glue import run

from dnabert.lm.checkpointing import PREEMPTED_EXIT, Preempted
from dnabert.lm.finetune import RunOutputs
from dnabert.lm.lr_search import finetune_seed


def main() -> None:
    outputs = replace(
        RunOutputs.under(Path(snakemake.output.metrics).parent),  # checkpoints/, tensorboard/, adapter/ beside
        metrics=Path(snakemake.output.metrics),
        predictions=Path(snakemake.output.predictions),
        history=Path(snakemake.output.history),
        model=Path(snakemake.output.model),
    )
    try:
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
    except Preempted as stopped:
        logging.getLogger("dnabert.lm.finetune").warning("%s; rerun to resume", stopped)
        sys.exit(PREEMPTED_EXIT)


run(snakemake, main)
