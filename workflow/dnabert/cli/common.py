"""What every ``dnabert`` subcommand shares: the help layout, runtime options, and checks of them."""

from __future__ import annotations

import argparse
from pathlib import Path

from dnabert.io import InputError

PROG = "dnabert"
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
# Choices of the owning modules, repeated here so that `--help` needs no torch import
# (tests/test_cli.py checks they stay equal to dnabert.lm.inference.AGGREGATES,
# dnabert.lm.kmer.OVERFLOW_POLICIES, dnabert.lm.embeddings.POOLINGS, ...vcf.ON_MISMATCH,
# dnabert.interpret.settings.ENGINES).
AGGREGATES = ("mean", "max")
OVERFLOWS = ("error", "truncate", "split")
POOLINGS = ("cls", "mean", "nucleotide")
ON_MISMATCH = ("flag", "error")
ENGINES = ("attention", "modisco")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; defaults shown where there is one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def add_command(commands, name: str, summary: str, description: str, example: str, *,
                batch_size: int | None = 64, model_help: str | None = None) -> argparse.ArgumentParser:  # fmt: skip
    """A subcommand with its example, ``--model`` (unless ``model_help`` is ``""``) and the runtime options.

    ``batch_size``: the default of ``--batch-size``; ``None`` for a command that runs no model
    (no ``--device``, ``--batch-size``, ``--precision``, ``--threads``).
    """
    parser = commands.add_parser(name, help=summary, description=f"{summary}\n\n{description}".rstrip(),
                                 epilog=f"example:\n  {example}", formatter_class=Formatter)  # fmt: skip
    if model_help != "":
        parser.add_argument("--model", required=True, metavar="DIR|HUB_ID", help=model_help or (
            "model directory (results/finetune/<task>/seed1/model, results/pretrain/model, a DNABERT release) "
            "or a Hugging Face Hub id (zhihan1996/DNA_bert_6)"))  # fmt: skip
    runtime = parser.add_argument_group("runtime")
    if batch_size is not None:  # None: the command runs no model
        runtime.add_argument("--device", choices=DEVICES, default="auto", help="where the model runs (auto: CUDA if any)")
        runtime.add_argument("--batch-size", type=positive, default=batch_size, help="sequences per model batch")
        runtime.add_argument("--precision", choices=PRECISIONS, default="auto", help="auto: bf16 on CUDA, fp32 on CPU")
        runtime.add_argument("--threads", type=positive, default=None, help="CPU threads for torch (default: torch's)")
    runtime.add_argument("--debug", action="store_true", help="show the traceback of an error, and debug logging")
    runtime.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    return parser


def _at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    return _at_least(1, text)


def non_negative(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return _at_least(0, text)


def heads(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated head indices (``0,3,5``)."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def progress(args: argparse.Namespace) -> bool:
    """Progress bars (tqdm, on stderr) unless ``--quiet``; transformers' own loading bars off."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return not args.quiet


def runtime(args: argparse.Namespace) -> dict:
    """``device``, ``precision``, ``threads`` and ``batch_size`` keyword arguments (the device checked first)."""
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError(None, "cuda requested but torch finds no CUDA device", field="--device")
    return {"device": args.device, "precision": args.precision, "threads": args.threads,
            "batch_size": args.batch_size}  # fmt: skip


def output(path: Path) -> Path:
    """An output path whose folder can be made (its parents are created by the atomic writers)."""
    if path.exists() and path.is_dir():
        raise InputError(path, "is a directory; give a file name", field="--out")
    return path
