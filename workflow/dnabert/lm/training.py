"""What pretraining and fine-tuning share: the device, mixed precision, AdamW parameter groups, the CSV log."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from dnabert.io import PathLike, atomic_path


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch finds no CUDA device")
    return torch.device(device)


def autocast_for(device: torch.device, precision: str) -> tuple[Callable[[], contextlib.AbstractContextManager], str]:
    """bf16 autocast on CUDA (``auto`` or ``bf16``), full precision otherwise."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)), "bf16"
    return contextlib.nullcontext, "fp32"


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases and LayerNorm weights (as BERT and DNABERT); tied weights once."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def write_history(path: PathLike, rows: list[dict[str, Any]], fields: Sequence[str]) -> None:
    """A training log (one row per logged or evaluated step) as CSV, written atomically; None is empty."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if row.get(key) is None else row[key]) for key in fields})
