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
* the attention must also be usable by DNABERT's region rule (a base above 10x its
  sequence's minimum): a head set is *usable* when at least half the dev positives
  have such a base in its summed attention, spread over bases (a head can separate
  well yet be too flat for the rule: max/min 2.7 against the rule's 10);
* ``heads: auto`` ranks, per layer, the usable heads with AUROC >= ``min_auroc`` (the
  best usable head when none passes; every head when none is usable) and keeps the
  best 1, 2, ... of them whose summed attention is usable and separates best (its
  peakedness AUROC; ties: fewer heads); ``layer: auto`` takes a layer whose choice is
  usable, the one with the best AUROC (ties: the later layer, as DNABERT's default is
  the last).

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
    #: DNABERT's region rule (a base above ``min_factor`` x its sequence's minimum); a head set is usable
    #: when at least ``min_usable`` of the dev positives have a base that passes it.
    min_factor: float = 10.0
    min_usable: float = 0.5

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


def usable_share(rows: Sequence[np.ndarray], labels: np.ndarray, layer: int, heads: Sequence[int], k: int,
                 min_factor: float) -> float:  # fmt: skip
    """Share of the positives whose summed attention, spread over bases, has a base above ``min_factor`` x its minimum."""
    passing = []
    for r, label in zip(rows, labels):
        if label > 0:
            a = r[:, layer, list(heads)].sum(axis=1)
            total = np.convolve(a, np.ones(k))
            base = total / np.convolve(np.ones(a.size), np.ones(k))
            passing.append(base.max() > min_factor * base.min())
    return float(np.mean(passing)) if passing else 0.0


def _auroc(labels: np.ndarray, values: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    positive = labels > 0
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, values))


def _summed_auroc(rows: Sequence[np.ndarray], labels: np.ndarray, layer: int, heads: Sequence[int], window: int) -> float:
    return _auroc(labels, np.array([peakedness(r[:, layer, list(heads)].sum(axis=1), window) for r in rows]))


def _layer_heads(rows: Sequence[np.ndarray], labels: np.ndarray, layer: int, aurocs: np.ndarray,
                 settings: HeadSettings, k: int) -> tuple[tuple[int, ...], float, bool]:  # fmt: skip
    """A layer's heads, the dev AUROC of their summed attention, and whether DNABERT's region rule can use it.

    ``auto``: the heads with AUROC >= ``min_auroc`` whose attention passes the region
    rule (:func:`usable_share`), best first (the best such head when none reaches
    ``min_auroc``; every head when none is usable); of the sums of the best 1, 2, ...
    of them, the usable one that separates best (ties: fewer heads).
    """
    def usable(heads: Sequence[int]) -> bool:
        return usable_share(rows, labels, layer, heads, k, settings.min_factor) >= settings.min_usable

    if settings.heads == "all":
        chosen = tuple(range(aurocs.size))
    elif settings.heads != "auto":
        chosen = tuple(int(h) for h in settings.heads)
    else:
        scores = np.nan_to_num(aurocs, nan=0.0)
        order = [int(h) for h in np.argsort(-scores, kind="stable")]
        fit = [h for h in order if usable([h])] or order
        ranked = [h for h in fit if scores[h] >= settings.min_auroc] or fit[:1]
        best, chosen = -1.0, tuple(ranked[:1])
        for m in range(1, len(ranked) + 1):
            if m > 1 and not usable(ranked[:m]):
                continue
            value = np.nan_to_num(_summed_auroc(rows, labels, layer, ranked[:m], settings.window), nan=0.0)
            if value > best + 1e-12:
                best, chosen = value, tuple(sorted(ranked[:m]))
    return chosen, _summed_auroc(rows, labels, layer, chosen, settings.window), usable(chosen)


def select_heads(rows: Sequence[np.ndarray], labels: np.ndarray, settings: HeadSettings, k: int = 1) -> HeadSelection:
    """Choose the layer and heads from dev sequences' [CLS] rows (``(n_kmers, layers, heads)`` each, with labels).

    ``k``: the k-mer length, to spread attention over bases as the motif finder does.
    """
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
    records, layer_scores, layer_heads, layer_usable = [], [], [], []
    for layer in range(n_layers):
        chosen, score, fits = _layer_heads(rows, labels, layer, aurocs[layer], settings, k)
        layer_heads.append(chosen)
        layer_scores.append(score)
        layer_usable.append(fits)
        records += [(layer, str(h), aurocs[layer, h]) for h in range(n_heads)]
        records.append((layer, "sum:" + ",".join(map(str, chosen)), layer_scores[-1]))
    if settings.layer == "auto":  # usable layers first, then the best AUROC (ties: the later layer)
        scores = np.nan_to_num(np.array(layer_scores), nan=-1.0) + 10.0 * np.array(layer_usable)
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
