"""The command line of pretraining (``python -m dnabert.lm.pretrain``, also under torchrun): arguments, exit status."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch.distributed as dist

from dnabert.io import InputError
from dnabert.lm.checkpointing import PREEMPTED_EXIT, Preempted
from dnabert.lm.pretrain.pipeline import train
from dnabert.lm.pretrain.settings import Outputs, PretrainSettings

log = logging.getLogger("dnabert.lm.pretrain")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line arguments (the rule passes the config section as JSON)."""
    parser = argparse.ArgumentParser(
        prog="python -m dnabert.lm.pretrain",
        description="MLM pretraining of a k-mer BERT (DNABERT). Run under torchrun for several GPUs.",
    )
    parser.add_argument("--corpus", required=True, type=Path, help="corpus directory (results/corpus/k6)")
    parser.add_argument("--kmer", required=True, type=int, help="k-mer length (must match the corpus)")
    parser.add_argument("--settings", required=True, help="the pretrain: config section as JSON, or @file.json")
    parser.add_argument("--dev-chromosomes", nargs="*", default=[], help="held-out chromosomes (splits.dev)")
    parser.add_argument("--model", required=True, type=Path, help="output Hugging Face model directory")
    parser.add_argument("--metrics", required=True, type=Path, help="output metrics.json")
    parser.add_argument("--history", required=True, type=Path, help="output training log (CSV)")
    parser.add_argument("--plot", required=True, type=Path, help="output training-curve PNG")
    parser.add_argument("--checkpoints", required=True, type=Path, help="checkpoint directory (kept for resuming)")
    parser.add_argument("--tensorboard", type=Path, default=None, help="TensorBoard event-file folder (default: none)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (split among CPU processes)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; return the exit status (2: bad input, 143: pre-empted)."""
    text = Path(args.settings[1:]).read_text() if args.settings.startswith("@") else args.settings
    try:
        settings = PretrainSettings.from_config(json.loads(text), args.kmer)
        outputs = Outputs(args.model, args.metrics, args.history, args.plot, args.checkpoints, args.tensorboard)
        train(settings, args.corpus, outputs, args.dev_chromosomes, device=args.device, threads=args.threads)
    except Preempted as stopped:
        log.warning("%s; rerun to resume", stopped)
        return PREEMPTED_EXIT
    except (InputError, json.JSONDecodeError, TypeError) as err:
        log.error("%s", err)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: logging to stderr (the rule's log), then :func:`run`."""
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return run(args)
