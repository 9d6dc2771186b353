"""Which layer and heads DNABERT's attention is read from, chosen on the dev split.

DNABERT reads the last layer's [CLS] attention summed over all heads. In a small or
weakly trained model that sum can be as flat for positives as for negatives (nothing
passes the motif finder's 10x-minimum rule) while single heads, or another layer,
point at the motif. Here every layer x head is scored on dev sequences by how well a
per-sequence *peakedness* of its [CLS] attention separates positives from negatives:

* peakedness: the share of the head's [CLS] attention (normalised over the k-mers)
  that falls in the best window of ``window`` consecutive k-mers (a motif-sized
  stretch); a head that looks at one site in positives and spreads out over
  negatives gets a high share in positives only;
* the score of a head is the AUROC of its peakedness, positives (label > 0) against
  negatives (label 0);
* ``heads: auto`` keeps, per layer, the heads with AUROC >= ``min_auroc`` (or the
  layer's best head when none does); the layer's score is the AUROC of the
  peakedness of those heads' summed attention; ``layer: auto`` takes the layer with
  the best score (ties: the later layer, as DNABERT's default is the last).

``layer`` may also be an index (-1: last) and ``heads`` ``all`` or a list, as in
DNABERT; the table of every layer x head is written either way, so the choice and
its dev score are on record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadSettings:
    """``interpret.attention`` keys of the choice: ``layer`` (``auto`` or an index), ``heads`` (``auto``, ``all`` or indices)."""

    layer: int | str = "auto"
    heads: str | tuple[int, ...] = "auto"
    window: int = 8
    min_auroc: float = 0.6

    def __post_init__(self) -> None:
        if isinstance(self.layer, str) and self.layer != "auto":
            raise InputError(None, f"must be auto or a layer index, got {self.layer!r}", field="interpret.attention.layer")
        if isinstance(self.heads, str) and self.heads not in ("auto", "all"):
            raise InputError(None, f"must be auto, all or a list of head indices, got {self.heads!r}",
                             field="interpret.attention.heads")  # fmt: skip
        if self.window < 1:
            raise InputError(None, f"must be >= 1, got {self.window}", field="interpret.attention.selection.window")


@dataclass(frozen=True)
class HeadSelection:
    """The chosen layer (a non-negative index) and heads, the dev AUROC of their summed attention, and every score."""

    layer: int
    heads: tuple[int, ...]
    auroc: float
    table: pd.DataFrame  # layer, head ('sum' for a layer's chosen heads summed), auroc, selected

    def describe(self) -> str:
        return f"layer {self.layer}, heads {','.join(map(str, self.heads))} (dev AUROC {self.auroc:.3f})"


def peakedness(kmer_attention: np.ndarray, window: int) -> np.ndarray:
    """Share of the attention over k-mers (axis 0) in its best window of ``window`` consecutive k-mers.

    ``kmer_attention``: ``(n_kmers, ...)``; returns the trailing shape. Windows longer
    than the sequence cover it all (share 1).
    """
    a = np.asarray(kmer_attention, dtype=np.float64)
    total = a.sum(axis=0)
    w = min(window, a.shape[0])
    cumulative = np.concatenate([np.zeros((1, *a.shape[1:])), np.cumsum(a, axis=0)])
    best = (cumulative[w:] - cumulative[:-w]).max(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, best / np.where(total > 0, total, 1), 0.0)


def _auroc(labels: np.ndarray, values: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    positive = labels > 0
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, values))


def _layer_heads(aurocs: np.ndarray, heads: str | tuple[int, ...], min_auroc: float) -> tuple[int, ...]:
    if heads == "all":
        return tuple(range(aurocs.size))
    if heads == "auto":
        passing = np.flatnonzero(np.nan_to_num(aurocs, nan=0.0) >= min_auroc)
        return tuple(int(h) for h in passing) if passing.size else (int(np.nanargmax(aurocs)) if np.isfinite(aurocs).any() else 0,)
    return tuple(int(h) for h in heads)


def select_heads(rows: Sequence[np.ndarray], labels: np.ndarray, settings: HeadSettings) -> HeadSelection:
    """Choose the layer and heads from dev sequences' [CLS] rows (``(n_kmers, layers, heads)`` each, with labels)."""
    labels = np.asarray(labels)
    if not rows:
        raise InputError(None, "no dev sequences to choose attention heads on", field="interpret.attention")
    n_layers, n_heads = rows[0].shape[1:]
    if not isinstance(settings.heads, str) and any(not 0 <= h < n_heads for h in settings.heads):
        raise InputError(None, f"head indices must be in 0..{n_heads - 1}, got {list(settings.heads)}",
                         field="interpret.attention.heads")  # fmt: skip
    if not isinstance(settings.layer, str) and not -n_layers <= settings.layer < n_layers:
        raise InputError(None, f"layer {settings.layer} out of range: the model has {n_layers} layers",
                         field="interpret.attention.layer")  # fmt: skip
    per_head = np.stack([peakedness(r, settings.window) for r in rows])  # (sequences, layers, heads)
    aurocs = np.array([[_auroc(labels, per_head[:, layer, h]) for h in range(n_heads)] for layer in range(n_layers)])
    records, layer_scores, layer_heads = [], [], []
    for layer in range(n_layers):
        chosen = _layer_heads(aurocs[layer], settings.heads, settings.min_auroc)
        summed = np.array([peakedness(r[:, layer, list(chosen)].sum(axis=1), settings.window) for r in rows])
        layer_heads.append(chosen)
        layer_scores.append(_auroc(labels, summed))
        records += [(layer, str(h), aurocs[layer, h]) for h in range(n_heads)]
        records.append((layer, "sum:" + ",".join(map(str, chosen)), layer_scores[-1]))
    if settings.layer == "auto":
        scores = np.nan_to_num(np.array(layer_scores), nan=-1.0)
        layer = int(np.flatnonzero(scores == scores.max())[-1])
    else:
        layer = int(settings.layer) % n_layers
    table = pd.DataFrame(records, columns=["layer", "head", "auroc"])
    chosen = layer_heads[layer]
    table["selected"] = (table["layer"] == layer) & (table["head"] == "sum:" + ",".join(map(str, chosen)))
    selection = HeadSelection(layer, chosen, float(layer_scores[layer]), table)
    log.info("attention from %s; chosen on %d dev sequences (%d positive)", selection.describe(), len(rows),
             int((labels > 0).sum()))  # fmt: skip
    return selection


def write_selection(selection: HeadSelection, path: PathLike) -> None:
    """The table of every layer x head (and each layer's chosen heads summed) with its dev AUROC, as TSV."""
    with atomic_write(path) as handle:
        selection.table.to_csv(handle, sep="\t", index=False, float_format="%.4f")
