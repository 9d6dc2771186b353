"""Variant-effect scores: the target-class probability of sequences and the alt-versus-ref effect columns."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from dnabert.io import InputError
from dnabert.lm.inference import predict_sequences

BASES = "ACGT"  # substitution alphabet and heatmap row order
SEQUENCE_RE = re.compile(r"^[ACGTN]+$", re.IGNORECASE)  # what a REF/ALT allele or replacement may spell
EPS = 1e-6  # probability clipping for log odds

Autocast = Callable[[], contextlib.AbstractContextManager]


def log_odds(p: np.ndarray) -> np.ndarray:
    """Natural-log odds ``log(p / (1 - p))`` with ``p`` clipped to ``[EPS, 1 - EPS]``."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def effect_columns(prob_ref: np.ndarray, prob_alt: np.ndarray) -> dict[str, np.ndarray]:
    """``prob_ref prob_alt delta_prob log_odds_ratio`` columns of alt-versus-ref scores."""
    prob_ref = np.asarray(prob_ref, dtype=np.float64)
    prob_alt = np.asarray(prob_alt, dtype=np.float64)
    return {"prob_ref": prob_ref, "prob_alt": prob_alt, "delta_prob": prob_alt - prob_ref,
            "log_odds_ratio": log_odds(prob_alt) - log_odds(prob_ref)}  # fmt: skip


def check_target(model: nn.Module, target_class: int) -> int:
    """``target_class`` if the model has that class, else an :class:`InputError` for ``target_class``."""
    n = int(model.config.num_labels)
    if not 0 <= target_class < n:
        raise InputError(None, f"the model has {n} classes (0..{n - 1}), got {target_class}", field="target_class")
    return int(target_class)


def device_of(model: nn.Module, device: torch.device | None) -> torch.device:
    """``device``, or the one the model's parameters are on."""
    return device or next(model.parameters()).device


def target_probs(
    model: nn.Module,
    k: int,
    sequences: Sequence[str],
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> np.ndarray:
    """Target-class probability of each sequence (long ones split into windows, weighted mean; both
    strands averaged for a model fine-tuned on both)."""
    probs, _ = predict_sequences(model, list(sequences), k, batch_size=batch_size, device=device_of(model, device),
                                 autocast=autocast, progress=progress)  # fmt: skip
    return probs[:, target_class]
