"""Genomic intervals as numpy arrays: windows, bounds/blacklist/N filters, vectorised sequence extraction.

Coordinates are 0-based half-open, as in BED. An :class:`Intervals` holds one
array per column, so filters and window arithmetic are vectorised. Sequences
come from an indexed (bgzipped or plain) FASTA through pysam; windows are cut
per chromosome with one fancy-indexing gather, as a ``(n, width)`` uint8
array of ASCII codes, and reverse-complemented or upper-cased as arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from dnabert.io import InputError, PathLike
from dnabert.sequence import ASCII_COMPLEMENT, ASCII_UPPER, to_strings

log = logging.getLogger(__name__)

# Whole chromosomes are read when they hold at least one window per this many bp; sparser
# windows are fetched one by one (htslib keeps the current BGZF block, so sorted fetches are cheap).
# Measured: ~4 us per fetched window against ~5 ns per base of a whole chromosome.
_DENSE_BP = 400


@dataclass
class Intervals:
    """Columns of a set of intervals; ``strand`` is '+', '-' or '.' and ``name`` free text."""

    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    strand: np.ndarray = field(default=None)  # type: ignore[assignment]
    name: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.chrom)
        self.chrom = np.asarray(self.chrom, dtype=object)
        self.start = np.asarray(self.start, dtype=np.int64)
        self.end = np.asarray(self.end, dtype=np.int64)
        self.strand = np.full(n, ".", dtype="<U1") if self.strand is None else np.asarray(self.strand, dtype="<U1")
        self.name = np.full(n, "", dtype=object) if self.name is None else np.asarray(self.name, dtype=object)
        if not all(len(col) == n for col in (self.start, self.end, self.strand, self.name)):
            raise ValueError("Intervals columns differ in length")

    def __len__(self) -> int:
        return len(self.chrom)

    @property
    def length(self) -> np.ndarray:
        return self.end - self.start

    def take(self, index: np.ndarray) -> Intervals:
        """The rows selected by a boolean mask or an index array."""
        return Intervals(self.chrom[index], self.start[index], self.end[index], self.strand[index], self.name[index])

    @classmethod
    def empty(cls) -> Intervals:
        return cls(np.array([], dtype=object), np.array([], dtype=np.int64), np.array([], dtype=np.int64))

    @classmethod
    def concat(cls, parts: Sequence[Intervals]) -> Intervals:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.chrom for p in parts]),
            np.concatenate([p.start for p in parts]),
            np.concatenate([p.end for p in parts]),
            np.concatenate([p.strand for p in parts]),
            np.concatenate([p.name for p in parts]),
        )

    def by_chrom(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(chrom, row indices)`` for each chromosome, in order of first appearance."""
        if len(self) == 0:
            return
        names, first, inverse = np.unique(self.chrom.astype(str), return_index=True, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
        for k in np.argsort(first):
            yield str(names[k]), order[bounds[k] : bounds[k + 1]]


def centred_windows(chrom: np.ndarray, centre: np.ndarray, width: int, **columns) -> Intervals:
    """Windows of ``width`` bp with base ``centre`` at index ``width // 2``."""
    centre = np.asarray(centre, dtype=np.int64)
    start = centre - width // 2
    return Intervals(chrom, start, start + width, **columns)


def shifted(intervals: Intervals, offset: np.ndarray | int) -> Intervals:
    """The same intervals moved by ``offset`` bp (per row or for all)."""
    return Intervals(
        intervals.chrom, intervals.start + offset, intervals.end + offset, intervals.strand, intervals.name
    )


def within_bounds(intervals: Intervals, sizes: dict[str, int]) -> np.ndarray:
    """True where the interval lies on a known chromosome and inside it."""
    length = np.array([sizes.get(c, -1) for c in intervals.chrom], dtype=np.int64)
    return (length >= 0) & (intervals.start >= 0) & (intervals.end <= length)


def check_chromosome_ends(
    intervals: Intervals, sizes: dict[str, int], path: PathLike, what: str, lines: np.ndarray | None = None
) -> np.ndarray:
    """Where intervals of a file end past their chromosome (those on absent chromosomes are not counted).

    When all of them do, the genome is probably another assembly: an :class:`InputError`
    ``N of M <what> lie past chromosome ends: wrong assembly?`` naming the first one's line.
    When some do, a warning says so. Returns the mask.
    """
    length = np.array([sizes.get(c, -1) for c in intervals.chrom], dtype=np.int64)
    known = length >= 0
    past = known & (intervals.end > length)
    if not past.any():
        return past
    first = int(np.flatnonzero(past)[0])
    chrom, start, end = intervals.chrom[first], int(intervals.start[first]), int(intervals.end[first])
    line = None if lines is None else int(lines[first])
    message = (f"{int(past.sum())} of {int(known.sum())} {what} lie past chromosome ends")
    example = f"first: {chrom}:{start}-{end}, and {chrom} has {int(length[first]):,} bp"
    if past.sum() == known.sum():
        raise InputError(path, f"{message}: wrong assembly? ({example})", line=line, field="end")
    log.warning("%s%s: field 'end': %s (%s); what lies past an end is dropped", path,
                "" if line is None else f":{line}", message, example)
    return past


class IntervalIndex:
    """Merged, sorted intervals per chromosome for vectorised overlap queries."""

    def __init__(self, intervals: Intervals | None = None):
        self._blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if intervals is not None and len(intervals):
            for chrom, rows in intervals.by_chrom():
                self._blocks[chrom] = _merge(intervals.start[rows], intervals.end[rows])

    @classmethod
    def from_bed(cls, path: PathLike) -> IntervalIndex:
        """Index a BED file (e.g. the prepared blacklist)."""
        from dnabert.data.genome import read_bed_intervals

        rows = list(read_bed_intervals(path))
        if not rows:
            return cls()
        _, chrom, start, end = zip(*rows)
        return cls(Intervals(np.array(chrom, dtype=object), np.array(start), np.array(end)))

    def union(self, other: Intervals) -> IntervalIndex:
        """A new index holding these intervals and ``other``."""
        merged = IntervalIndex()
        chroms = set(self._blocks) | set(np.unique(other.chrom.astype(str)).tolist() if len(other) else [])
        for chrom in chroms:
            starts = [self._blocks[chrom][0]] if chrom in self._blocks else []
            ends = [self._blocks[chrom][1]] if chrom in self._blocks else []
            mask = other.chrom == chrom
            starts.append(other.start[mask])
            ends.append(other.end[mask])
            merged._blocks[chrom] = _merge(np.concatenate(starts), np.concatenate(ends))
        return merged

    def overlaps(self, intervals: Intervals) -> np.ndarray:
        """True where an interval overlaps any indexed interval by at least one base."""
        hit = np.zeros(len(intervals), dtype=bool)
        for chrom, rows in intervals.by_chrom():
            if chrom in self._blocks:
                hit[rows] = overlaps_sorted(*self._blocks[chrom], intervals.start[rows], intervals.end[rows])
        return hit

    def blocks(self, chrom: str) -> tuple[np.ndarray, np.ndarray]:
        empty = np.zeros(0, dtype=np.int64)
        return self._blocks.get(chrom, (empty, empty))

    def __len__(self) -> int:
        return sum(len(s) for s, _ in self._blocks.values())


def _merge(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from dnabert.data.genome import merge_intervals

    return merge_intervals(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))


def overlaps_sorted(block_start: np.ndarray, block_end: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Overlap of ``[start, end)`` with sorted, non-overlapping blocks (vectorised)."""
    if len(block_start) == 0:
        return np.zeros(len(start), dtype=bool)
    j = np.searchsorted(block_start, end, side="left") - 1
    return (j >= 0) & (block_end[np.maximum(j, 0)] > start)


class GenomeSequence:
    """Random access to an indexed FASTA (BGZF with .fai/.gzi, or plain with .fai) via pysam."""

    def __init__(self, path: PathLike):
        self.path = Path(path)
        try:
            self._fasta = pysam.FastaFile(str(path))
        except (OSError, ValueError) as error:
            raise InputError(path, f"cannot open indexed FASTA: {error}") from None
        self.sizes: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))
        self._cached: tuple[str, np.ndarray] | None = None

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> GenomeSequence:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def chromosome(self, chrom: str) -> np.ndarray:
        """The whole chromosome as ASCII codes (case kept); the last one read is cached."""
        if self._cached is None or self._cached[0] != chrom:
            self._cached = None
            text = self._fasta.fetch(chrom)
            self._cached = (chrom, np.frombuffer(text.encode("ascii"), dtype=np.uint8))
        return self._cached[1]

    def windows(self, intervals: Intervals, oriented: bool = True, upper: bool = True) -> np.ndarray:
        """Sequences of equal-length intervals as an ``(n, width)`` uint8 array of ASCII codes.

        Intervals must lie inside their chromosome (see :func:`within_bounds`). With
        ``oriented``, rows on the '-' strand are reverse-complemented; with ``upper``
        soft-masked bases are upper-cased.
        """
        n = len(intervals)
        widths = np.unique(intervals.length)
        if n and len(widths) != 1:
            raise ValueError(f"windows() needs equal-length intervals, got lengths {widths[:5].tolist()}")
        width = int(widths[0]) if n else 0
        out = np.empty((n, width), dtype=np.uint8)
        offsets = np.arange(width, dtype=np.int64)
        for chrom, rows in intervals.by_chrom():
            size = self.sizes.get(chrom)
            starts = intervals.start[rows]
            if size is None or starts.min() < 0 or starts.max() + width > size:
                raise ValueError(f"windows() got intervals outside {chrom} (length {size})")
            if len(rows) * _DENSE_BP >= size or (self._cached is not None and self._cached[0] == chrom):
                seq = self.chromosome(chrom)
                out[rows] = seq[starts[:, None] + offsets]
            else:
                order = np.argsort(starts, kind="stable")
                fetch = self._fasta.fetch
                joined = "".join([fetch(chrom, s, s + width) for s in starts[order].tolist()])
                out[rows[order]] = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(len(rows), width)
        if upper:
            out = ASCII_UPPER[out]
        if oriented:
            minus = intervals.strand == "-"
            if minus.any():
                out[minus] = ASCII_COMPLEMENT[out[minus][:, ::-1]]
        return out

    def sequences(self, intervals: Intervals, oriented: bool = True, upper: bool = True) -> list[str]:
        """Sequences of intervals of any lengths as strings (one :meth:`windows` call per length)."""
        out = [""] * len(intervals)
        lengths = intervals.length
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            for row, text in zip(rows.tolist(), to_strings(self.windows(intervals.take(rows), oriented, upper))):
                out[row] = text
        return out

    def sequence(self, chrom: str, start: int, end: int) -> bytes:
        """One region's sequence as stored (case kept)."""
        return self._fasta.fetch(chrom, start, end).encode("ascii")


def fasta_header(intervals: Intervals, stranded: bool = False) -> list[str]:
    """``chrom:start-end`` names as ``bedtools getfasta`` writes them (``(+)``/``(-)`` with ``-s``)."""
    heads = [f"{c}:{s}-{e}" for c, s, e in zip(intervals.chrom, intervals.start.tolist(), intervals.end.tolist())]
    if stranded:
        heads = [f"{h}({'-' if st == '-' else '+'})" for h, st in zip(heads, intervals.strand)]
    return heads
