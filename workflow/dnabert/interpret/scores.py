"""Per-base scores of many sequences: spreading k-mer scores over bases, the ragged container, the scores file.

:func:`spread_kmer_scores` is DNABERT's spreading (each k-mer's score added to its k
bases, each base divided by the k-mers covering it); :class:`BaseScores` holds ragged
per-base scores; :class:`ScoredSet` is a task's scored sample (sequences, labels,
probabilities, attention, integrated gradients and hypothetical contributions, the
layer and heads the attention comes from) saved as one ``.npz`` without pickles.
This module needs no torch, so the motif steps that read the scores do not load it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert.io import InputError, PathLike, atomic_path


# --------------------------------------------------------------------------- spreading


def spread_kmer_scores(kmer_scores: np.ndarray, k: int) -> np.ndarray:
    """Per-base scores of one sequence: each k-mer's score over its k bases, averaged by coverage.

    ``kmer_scores`` has one value per k-mer (n), the result one per base (n + k - 1).
    """
    scores = np.asarray(kmer_scores, dtype=np.float64)
    if scores.size == 0:
        return np.zeros(0)
    total = np.convolve(scores, np.ones(k))
    coverage = np.convolve(np.ones(scores.size), np.ones(k))
    return total / coverage


def unit_norm(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to unit L2 norm (unchanged if all zero)."""
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 0 else values


# --------------------------------------------------------------------------- scores container


@dataclass
class BaseScores:
    """Ragged per-base scores of many sequences: sequence ``i`` is ``values[offsets[i]:offsets[i+1]]``."""

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_list(cls, arrays: Sequence[np.ndarray]) -> BaseScores:
        lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        values = np.concatenate(arrays).astype(np.float32) if arrays else np.zeros(0, np.float32)
        return cls(values, offsets)

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def to_list(self) -> list[np.ndarray]:
        return [self[i] for i in range(len(self))]

    def matrix(self, rows: np.ndarray | None = None, fill: float = np.nan) -> np.ndarray:
        """Rows (default all) padded with ``fill`` to the longest into one 2-D array."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        out = np.full((rows.size, int(lengths.max(initial=0))), fill, dtype=np.float64)
        for r, i in enumerate(rows):
            out[r, : lengths[r]] = self[int(i)]
        return out


# --------------------------------------------------------------------------- agreement


def agreement(attention: BaseScores, attribution: BaseScores) -> np.ndarray:
    """Per sequence, the Spearman correlation of attention with the attribution's magnitude."""
    from scipy.stats import spearmanr

    out = np.full(len(attention), np.nan)
    for i in range(len(attention)):
        a, b = attention[i], np.abs(attribution[i])
        if a.size > 2 and np.ptp(a) > 0 and np.ptp(b) > 0:
            out[i] = spearmanr(a, b).statistic
    return out


# --------------------------------------------------------------------------- storage


def write_npz(path: PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """A compressed ``.npz`` that ``np.load`` reads, byte-identical for identical arrays.

    ``np.savez_compressed`` stamps every member with the current time; here the
    members carry a fixed (1980-01-01) timestamp instead.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


@dataclass
class ScoredSet:
    """Sequences with their labels, model probability and per-base attention, saved as one ``.npz``.

    Strings are stored as fixed-width unicode arrays, so loading needs no pickle.
    """

    sequences: list[str]
    labels: np.ndarray
    probability: np.ndarray
    attention: BaseScores
    names: list[str]
    chrom: list[str] = field(default_factory=list)
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    strand: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    #: Integrated gradients of some rows (``attribution_rows``, in that order), if computed.
    attribution: BaseScores = field(default_factory=lambda: BaseScores.from_list([]))
    attribution_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: Hypothetical contributions of the attribution rows: ``(bases, 4)`` (ACGT), offsets as ``attribution``'s.
    hypothetical: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    #: The encoder layer and heads the attention comes from.
    layer: int = -1
    heads: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.sequences)
        if not self.chrom:
            self.chrom, self.strand, self.split = [""] * n, ["."] * n, [""] * n
            self.start = np.full(n, -1, np.int64)
        if len(self.attribution) != len(self.attribution_rows):
            raise ValueError(f"{len(self.attribution)} attributions for {len(self.attribution_rows)} rows")
        if len(self.hypothetical) and len(self.hypothetical) != len(self.attribution.values):
            raise ValueError(f"{len(self.hypothetical)} hypothetical rows for {len(self.attribution.values)} bases")

    def hypothetical_of(self, i: int) -> np.ndarray:
        """The ``(length, 4)`` hypothetical contributions of the ``i``-th attribution row."""
        return self.hypothetical[self.attribution.offsets[i] : self.attribution.offsets[i + 1]]

    def __len__(self) -> int:
        return len(self.sequences)

    def save(self, path: PathLike) -> None:
        """Write the set as a compressed ``.npz`` (atomically)."""
        lengths = np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self.sequences))
        arrays = {
            "sequence_bytes": np.frombuffer("".join(self.sequences).encode("ascii"), dtype=np.uint8),
            "sequence_offsets": np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            "labels": np.asarray(self.labels, np.int64),
            "probability": np.asarray(self.probability, np.float32),
            "attention": self.attention.values,
            "attention_offsets": self.attention.offsets,
            "names": np.array(self.names, dtype=str),
            "chrom": np.array(self.chrom, dtype=str),
            "start": np.asarray(self.start, np.int64),
            "strand": np.array(self.strand, dtype=str),
            "split": np.array(self.split, dtype=str),
            "attribution": self.attribution.values,
            "attribution_offsets": self.attribution.offsets,
            "attribution_rows": np.asarray(self.attribution_rows, np.int64),
            "hypothetical": np.asarray(self.hypothetical, np.float32).reshape(-1, 4),
            "layer": np.asarray(self.layer, np.int64),
            "heads": np.asarray(self.heads, np.int64),
        }
        with atomic_path(path) as tmp:
            write_npz(tmp, arrays)

    @classmethod
    def load(cls, path: PathLike) -> ScoredSet:
        """Read a set written by :meth:`save` (no pickle)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "attention scores not found")
        with np.load(path, allow_pickle=False) as data:
            text = data["sequence_bytes"].tobytes().decode("ascii")
            offsets = data["sequence_offsets"]
            sequences = [text[offsets[i] : offsets[i + 1]] for i in range(offsets.size - 1)]
            return cls(sequences, data["labels"], data["probability"],
                       BaseScores(data["attention"], data["attention_offsets"]), data["names"].tolist(),
                       data["chrom"].tolist(), data["start"], data["strand"].tolist(), data["split"].tolist(),
                       BaseScores(data["attribution"], data["attribution_offsets"]),
                       data["attribution_rows"], data["hypothetical"], int(data["layer"]),
                       tuple(int(h) for h in data["heads"]))  # fmt: skip

    def subset(self, rows: np.ndarray) -> ScoredSet:
        """The rows ``rows`` of the set, in that order (without attributions)."""
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda values: [values[int(i)] for i in rows]  # noqa: E731
        return ScoredSet(pick(self.sequences), self.labels[rows], self.probability[rows],
                         BaseScores.from_list([self.attention[int(i)] for i in rows]), pick(self.names),
                         pick(self.chrom), self.start[rows], pick(self.strand), pick(self.split),
                         layer=self.layer, heads=self.heads)  # fmt: skip
