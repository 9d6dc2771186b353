"""Snakemake glue: fine-tune one task with one seed and evaluate the best dev checkpoint on test.

Beside the declared outputs the run keeps ``checkpoints/`` while it runs (resumed by a rerun,
removed when it completes), ``tensorboard/`` and, with LoRA, ``adapter/``. Pre-empted by
SIGTERM/SIGUSR1, it checkpoints and exits with status 143, so ``--retries`` continues it.
"""

import logging
import sys
from pathlib import Path

from _glue import run

from dnabert.lm.checkpointing import PREEMPTED_EXIT, Preempted
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune


def main() -> None:
    settings = FinetuneSettings.from_config(snakemake.params.settings)
    folder = Path(snakemake.output.metrics).parent
    outputs = RunOutputs(
        metrics=Path(snakemake.output.metrics),
        predictions=Path(snakemake.output.predictions),
        history=Path(snakemake.output.history),
        model=Path(snakemake.output.model),
        checkpoints=folder / "checkpoints",
        tensorboard=folder / "tensorboard",
        adapter=folder / "adapter",
    )
    try:
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
    except Preempted as stopped:
        logging.getLogger("dnabert.lm.finetune").warning("%s; rerun to resume", stopped)
        sys.exit(PREEMPTED_EXIT)


run(snakemake, main)
