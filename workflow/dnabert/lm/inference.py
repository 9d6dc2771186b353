"""Inference with a k-mer BERT classifier, shared by every prediction path.

Prediction (:mod:`dnabert.lm.predict`), interpretation (:mod:`dnabert.interpret`),
variant scoring and fine-tuning's own dev/test evaluation (:mod:`dnabert.lm.finetune`)
all score sequences through this module:

* :func:`load_classifier` / :func:`load_for_inference`: a fine-tuned classifier
  directory (as written by :mod:`dnabert.lm.finetune`), its k, the device and the
  autocast context (bf16 on CUDA); :func:`load_any` takes any model directory or
  Hub id (a classifier as such, anything else as a masked LM);
* :func:`encode` / :class:`Encoded`: sequences tokenised into ragged
  ``[CLS] k-mers [SEP]`` rows; with ``overflow="split"`` a sequence longer than 510
  k-mers becomes consecutive 510-k-mer windows (:func:`dnabert.lm.kmer.encode_batch`),
  each one row; :meth:`Encoded.batch` pads some rows to their longest (multiple of 8);
* :func:`predict_rows`: class probabilities of every row, batched, in eval mode and
  without gradients, in length-sorted batches;
* :func:`combine_windows`: per-sequence probabilities from window probabilities
  (``mean`` weighted by each window's k-mers, or ``max``: per-class maximum,
  renormalised); :func:`predict_sequences` does all three steps for a list of sequences.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import BertForSequenceClassification

from dnabert.io import InputError, PathLike
from dnabert.lm import kmer
from dnabert.lm.hub import resolve_model
from dnabert.lm.models import infer_k, load_pretrained, read_config
from dnabert.lm.training import autocast_for, resolve_device

AGGREGATES = ("mean", "max")
PAD_MULTIPLE = 8

Autocast = Callable[[], contextlib.AbstractContextManager]


# --------------------------------------------------------------------------- model


def load_classifier(model_dir: PathLike, device: torch.device) -> tuple[BertForSequenceClassification, int]:
    """A fine-tuned classifier directory (as written by :mod:`dnabert.lm.finetune`) and its k."""
    model_dir = resolve_model(model_dir)
    config, _ = read_config(model_dir)
    k = infer_k(model_dir, config)
    if not config.architectures or "BertForSequenceClassification" not in config.architectures:
        raise InputError(
            model_dir / "config.json",
            "not a fine-tuned classifier (architectures lacks BertForSequenceClassification); fine-tune it first",
            field="architectures",
        )
    model = BertForSequenceClassification.from_pretrained(model_dir)
    return model.to(device).eval(), k


def is_classifier(model_dir: PathLike) -> bool:
    """True if a model directory (or Hub id) holds a fine-tuned sequence classifier."""
    config, _ = read_config(resolve_model(model_dir))
    return bool(config.architectures) and "BertForSequenceClassification" in config.architectures


def load_any(model_dir: PathLike, device: torch.device) -> tuple[nn.Module, int]:
    """Any model this workflow writes, a DNABERT release or a Hub id: a classifier as such, else a masked LM."""
    if is_classifier(model_dir):
        return load_classifier(model_dir, device)
    model, k = load_pretrained(model_dir)
    return model.to(device).eval(), k


def load_for_inference(
    model_dir: PathLike, device: str = "auto", precision: str = "auto", threads: int | None = None,
    *, any_model: bool = False,
) -> tuple[nn.Module, int, torch.device, Autocast]:
    """A model ready to score: ``(model, k, device, autocast)`` (threads set if given).

    A fine-tuned classifier, or with ``any_model`` any model (:func:`load_any`).
    """
    if threads:
        torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    autocast, _ = autocast_for(torch_device, precision)
    model, k = (load_any if any_model else load_classifier)(model_dir, torch_device)
    return model, k, torch_device, autocast


# --------------------------------------------------------------------------- encoding


@dataclass
class Encoded:
    """Token rows (``[CLS] k-mers [SEP]``, one or more per sequence) stored ragged."""

    tokens: np.ndarray  # all rows' tokens, concatenated
    offsets: np.ndarray  # row r is tokens[offsets[r]:offsets[r + 1]]
    sequence_index: np.ndarray  # input sequence of each row
    n_sequences: int

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return int(self.sequence_index.size)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` of some rows, padded to their longest (multiple of 8)."""
        lengths = self.lengths[rows]
        width = int(-(-lengths.max() // PAD_MULTIPLE) * PAD_MULTIPLE)
        ids = np.zeros((rows.size, width), dtype=np.int64)  # PAD_ID == 0
        positions = np.arange(width)[None, :]
        mask = positions < lengths[:, None]
        source = self.offsets[rows][:, None] + positions
        ids[mask] = self.tokens[source[mask]]
        return torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))


def encode(sequences: Sequence[str], k: int, overflow: str = "split", chunk: int = 4096) -> Encoded:
    """Tokenise sequences (vectorised, in chunks) into ragged rows; ``overflow`` as in :mod:`dnabert.lm.kmer`."""
    tokens, lengths, index = [], [], []
    for start in range(0, len(sequences), chunk):
        part = list(sequences[start : start + chunk])
        batch = kmer.encode_batch(part, k, overflow=overflow, dtype=np.int32)
        row_lengths = batch.attention_mask.sum(axis=1)
        tokens.append(batch.input_ids[batch.attention_mask.astype(bool)])
        lengths.append(row_lengths)
        index.append(batch.sequence_index + start)
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths_all))).astype(np.int64)
    return Encoded(np.concatenate(tokens) if tokens else np.zeros(0, np.int32), offsets,
                   np.concatenate(index) if index else np.zeros(0, np.int64), len(sequences))  # fmt: skip


# --------------------------------------------------------------------------- prediction


def combine_windows(
    window_probs: np.ndarray, encoded: Encoded, aggregate: str = "mean"
) -> np.ndarray:
    """Per-sequence probabilities from per-row (window) probabilities.

    ``mean``: mean over a sequence's windows weighted by their k-mers; ``max``: the
    per-class maximum over windows, renormalised to sum to 1. One window: unchanged.
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    n, n_classes = encoded.n_sequences, window_probs.shape[1]
    index = encoded.sequence_index
    if index.size == n and np.array_equal(index, np.arange(n)):
        return window_probs
    if aggregate == "mean":
        weights = (encoded.lengths - 2).clip(min=1).astype(np.float64)
        out = np.zeros((n, n_classes))
        np.add.at(out, index, window_probs * weights[:, None])
        total = np.bincount(index, weights=weights, minlength=n)
        return out / total[:, None]
    out = np.full((n, n_classes), -np.inf)
    np.maximum.at(out, index, window_probs)
    return out / out.sum(axis=1, keepdims=True)


@torch.inference_mode()
def predict_rows(
    model: nn.Module,
    encoded: Encoded,
    batch_size: int,
    device: torch.device,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> np.ndarray:
    """Class probabilities of every row (eval mode, no gradients, length-sorted batches)."""
    was_training = model.training
    model.eval()
    order = np.argsort(encoded.lengths, kind="stable")
    out = np.zeros((len(encoded), model.config.num_labels), dtype=np.float64)
    starts = range(0, order.size, batch_size)
    for start in tqdm(starts, desc="predict", unit="batch", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = encoded.batch(rows)
        with autocast():
            logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        out[rows] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return out


def predict_sequences(
    model: nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    batch_size: int = 128,
    device: torch.device | None = None,
    aggregate: str = "mean",
    overflow: str = "split",
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence class probabilities and the number of windows of each sequence."""
    device = device or next(model.parameters()).device
    encoded = encode(sequences, k, overflow)
    probs = predict_rows(model, encoded, batch_size, device, autocast, progress)
    windows = np.bincount(encoded.sequence_index, minlength=len(sequences))
    return combine_windows(probs, encoded, aggregate), windows
