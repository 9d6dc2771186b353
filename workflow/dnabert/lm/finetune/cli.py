"""The command line of fine-tuning (``python -m dnabert.lm.finetune``): arguments, exit status."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dnabert.io import InputError
from dnabert.lm.checkpointing import PREEMPTED_EXIT, Preempted
from dnabert.lm.evaluation import SPLIT_NAMES
from dnabert.lm.finetune.pipeline import finetune
from dnabert.lm.finetune.settings import FinetuneSettings, RunOutputs

log = logging.getLogger("dnabert.lm.finetune")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dnabert.lm.finetune",
        description="Fine-tune a k-mer BERT classifier on one task dataset (one seed); resumes from its "
        "checkpoints, and on SIGTERM/SIGUSR1 checkpoints and exits with status 143.",
    )
    parser.add_argument("--data", required=True, type=Path, help="dataset folder with train/dev/test.tsv.gz")
    parser.add_argument("--out", required=True, type=Path,
                        help="run folder (metrics.json, predictions.tsv, history.csv, model/, checkpoints/, "
                             "tensorboard/, adapter/ with LoRA)")  # fmt: skip
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None, help="pretrained or released model directory")
    parser.add_argument("--settings", default="{}", help="finetune settings as JSON, or @file.json")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: one fine-tuning run; 0 done, 2 bad input, 143 pre-empted (rerun to resume)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    text = Path(args.settings[1:]).read_text() if args.settings.startswith("@") else args.settings
    try:
        section = json.loads(text)
        if args.model is None and "init" not in section:
            section["init"] = "scratch"
        settings = FinetuneSettings.from_config(section)
        data = {name: args.data / f"{name}.tsv.gz" for name in SPLIT_NAMES}
        finetune(settings, data, RunOutputs.under(args.out), k=args.kmer, seed=args.seed, model_dir=args.model,
                 task=args.data.name, device=args.device, threads=args.threads)  # fmt: skip
    except Preempted as stopped:
        log.warning("%s; rerun to resume", stopped)
        return PREEMPTED_EXIT
    except (InputError, json.JSONDecodeError) as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
