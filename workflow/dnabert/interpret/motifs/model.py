"""The types of motif discovery: its settings, the motifs and result it returns, and ``(4, width)`` matrix helpers.

Matrices are ``(4, width)`` arrays, rows A, C, G, T (memelite's layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.pvalues import P_ADJUST
from dnabert.io import InputError

ALPHABET = "ACGT"


# --------------------------------------------------------------------------- settings and results


@dataclass(frozen=True)
class MotifSettings:
    """Parameters of :func:`~dnabert.interpret.motifs.discovery.discover` (DNABERT's ``motif_analysis`` keyword arguments).

    ``window``: width of the final motif windows; ``min_len``: shortest
    high-attention region; ``pval_cutoff``: adjusted p-value below which a
    candidate is kept; ``min_n_motif``: fewest windows a motif may have;
    ``align_all_ties``: merge a candidate into every key tied for the best
    alignment; ``align_cond``: alignment score needed to merge (DNABERT's
    ``align_cond``; default ``max(min_len - 1, shorter length / 2)``);
    ``p_adjust``: ``fdr_bh`` (DNABERT's default), ``bonferroni`` or ``none``;
    ``allow_multi_match``: also count every occurrence (reported; the test counts sequences);
    ``min_factor``: a high-attention base must score above this times the
    sequence minimum; ``strict_window_end``: DNABERT's ``end < length`` bound;
    ``sort_by``: order of the motifs, ``instances`` (most windows first) or
    ``pvalue`` (the seed's adjusted p-value, smallest first).
    """

    window: int = 24
    min_len: int = 5
    pval_cutoff: float = 0.005
    min_n_motif: int = 3
    align_all_ties: bool = True
    align_cond: float | None = None
    p_adjust: str = "fdr_bh"
    allow_multi_match: bool = False
    min_factor: float = 10.0
    strict_window_end: bool = True
    sort_by: str = "instances"

    def __post_init__(self) -> None:
        problems = []
        if self.window < 1:
            problems.append(("window", f"must be >= 1, got {self.window}"))
        if self.min_len < 1:
            problems.append(("min_len", f"must be >= 1, got {self.min_len}"))
        if not 0 < self.pval_cutoff <= 1:
            problems.append(("pval_cutoff", f"must be in (0, 1], got {self.pval_cutoff}"))
        if self.min_n_motif < 1:
            problems.append(("min_n_motif", f"must be >= 1, got {self.min_n_motif}"))
        if self.align_cond is not None and not self.align_cond > 0:
            problems.append(("align_cond", f"must be > 0, got {self.align_cond}"))
        if self.p_adjust not in P_ADJUST:
            problems.append(("p_adjust", f"must be one of {P_ADJUST}, got {self.p_adjust!r}"))
        if self.sort_by not in ("instances", "pvalue"):
            problems.append(("sort_by", f"must be 'instances' or 'pvalue', got {self.sort_by!r}"))
        if problems:
            name, message = problems[0]
            raise InputError(None, message, field=f"motifs.{name}")


@dataclass(frozen=True)
class Motif:
    """One discovered motif: the counts of its windows and the statistics of its seed candidate.

    ``counts`` is ``(4, width)`` (rows A, C, G, T; letters other than ACGT are
    not counted). ``seed`` is the key candidate the others were merged into;
    ``pos_count``/``neg_count``/``pvalue``/``padj`` are the seed's.
    """

    id: str
    seed: str
    counts: np.ndarray
    n_instances: int
    n_sequences: int
    pos_count: int
    neg_count: int
    pvalue: float
    padj: float
    merged: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return int(self.counts.shape[1])

    @property
    def probs(self) -> np.ndarray:
        """Letter probabilities, ``(4, width)``; a column without counts is uniform."""
        return probabilities(self.counts)

    @property
    def consensus(self) -> str:
        return consensus(self.probs)


@dataclass(frozen=True)
class MotifMatrix:
    """A named probability matrix, ``probs`` of shape ``(4, width)`` (e.g. a JASPAR profile; ``nsites``: its sites)."""

    id: str
    name: str
    probs: np.ndarray
    nsites: int = 1

    @property
    def width(self) -> int:
        return int(self.probs.shape[1])

    @property
    def consensus(self) -> str:
        return consensus(self.probs)


@dataclass
class MotifResult:
    """What :func:`~dnabert.interpret.motifs.discovery.discover` found.

    ``instances``: one row per motif window (motif, seq_index, start, end,
    strand, sequence; 0-based half-open in the positive sequence).
    ``candidates``: one row per distinct candidate (sequence, length, regions,
    pos_count, neg_count, pvalue, padj, significant, key: the seed it was
    merged into, or empty). ``stats``: counts after each step.
    """

    motifs: list[Motif]
    instances: pd.DataFrame
    candidates: pd.DataFrame
    n_pos: int
    n_neg: int
    settings: MotifSettings
    background: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per motif: id, seed, consensus, width, instances, sequences, merged, counts, p-values."""
        return summary_table(self.motifs)


def summary_table(motifs: Sequence[Motif]) -> pd.DataFrame:
    """One row per motif: id, seed, consensus, width, instances, sequences, merged, pos/neg counts, p, adjusted p."""
    return pd.DataFrame({
        "motif": [m.id for m in motifs],
        "seed": [m.seed for m in motifs],
        "consensus": [m.consensus for m in motifs],
        "width": [m.width for m in motifs],
        "instances": [m.n_instances for m in motifs],
        "sequences": [m.n_sequences for m in motifs],
        "merged": [len(m.merged) for m in motifs],
        "pos_count": [m.pos_count for m in motifs],
        "neg_count": [m.neg_count for m in motifs],
        "pvalue": [m.pvalue for m in motifs],
        "padj": [m.padj for m in motifs],
    })


# --------------------------------------------------------------------------- (4, width) matrices


def probabilities(counts: np.ndarray) -> np.ndarray:
    """Column-normalised counts of a ``(4, width)`` matrix; a column without counts is uniform."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > 0, counts / np.where(total > 0, total, 1), 0.25)
    return probs


def consensus(probs: np.ndarray) -> str:
    """The most likely letter of each column of a ``(4, width)`` matrix (first of ties, as MEME)."""
    probs = np.asarray(probs)
    return "".join(ALPHABET[i] for i in probs.argmax(axis=0))


def information_content(probs: np.ndarray) -> np.ndarray:
    """Bits per column of a ``(4, width)`` probability matrix (uniform background)."""
    p = np.asarray(probs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0).sum(axis=0)
    return 2.0 - h


def reverse_complement_matrix(probs: np.ndarray) -> np.ndarray:
    """The reverse complement of a ``(4, width)`` ACGT matrix."""
    return np.asarray(probs)[::-1, ::-1].copy()
