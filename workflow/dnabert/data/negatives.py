"""Negative sets: dinucleotide shuffles, GC-matched genomic background, flanks, DNABERT promoter negatives.

All samplers take a ``numpy.random.Generator`` so that a seed fixes the result,
and work on ``(n, width)`` uint8 arrays of upper-case ASCII codes.

*Dinucleotide shuffle* is the Altschul-Erikson (1985) algorithm in the form of
Kandel et al. (1996): the sequence is a walk through the multigraph of its
dinucleotides; a random arborescence of "last exits" towards the final letter
is drawn with Wilson's algorithm (edges chosen with their multiplicities), the
other exits are put in random order, and the Eulerian walk from the first
letter spells the shuffle. Every sequence with the same dinucleotide counts
(hence the same first and last letter) is equally likely. The steps are
vectorised across all sequences of a batch. (``ushuffle`` does the same in C
but ships only as a 2020 source package needing a compiler; tangermeme's
shuffle needs torch and one-hot tensors.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from dnabert.data.intervals import GenomeSequence, IntervalIndex, Intervals, overlaps_sorted, shifted, within_bounds
from dnabert.sequence import IS_GC, IS_N

log = logging.getLogger(__name__)

_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)
_INDEX = np.full(256, 4, dtype=np.int64)
for _i, _c in enumerate(b"ACGT"):
    _INDEX[_c] = _i
_K = 5


def counts_per_positive(n: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """How many negatives each of ``n`` positives gets so that the total is ``round(ratio * n)``."""
    total = int(round(ratio * n))
    base, extra = divmod(total, n) if n else (0, 0)
    counts = np.full(n, base, dtype=np.int64)
    if extra:
        counts[rng.choice(n, size=extra, replace=False)] += 1
    return counts


# --------------------------------------------------------------------------- dinucleotide shuffle


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shuffle each row of an ``(n, length)`` ASCII array, keeping its dinucleotide counts exactly.

    Letters other than ACGT are treated as one extra letter 'N'.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    n, length = codes.shape
    x = _INDEX[codes]
    if n == 0 or length <= 2:
        return _LETTERS[x]
    rows = np.arange(n)
    src, dst = x[:, :-1], x[:, 1:]
    order = np.argsort(src + rng.random(src.shape), axis=1, kind="stable")
    succ = np.take_along_axis(dst, order, axis=1)  # successors grouped by source letter, random within
    count = np.stack([(src == k).sum(axis=1) for k in range(_K)], axis=1)
    first = np.cumsum(count, axis=1) - count
    root = x[:, -1]

    # Wilson's algorithm: a random arborescence of last exits towards the root, per row.
    in_tree = count == 0
    in_tree[rows, root] = True
    chosen = np.zeros((n, _K), dtype=np.int64)
    for u in range(_K):
        for retrace in (False, True):
            cur = np.full(n, u)
            active = np.flatnonzero(~in_tree[:, u])
            while active.size:
                c = cur[active]
                if retrace:
                    in_tree[active, c] = True
                else:
                    chosen[active, c] = first[active, c] + (rng.random(active.size) * count[active, c]).astype(np.int64)
                cur[active] = succ[active, chosen[active, c]]
                active = active[~in_tree[active, cur[active]]]
    # Move each last exit to the end of its group.
    last = first + count - 1
    for v in range(_K):
        r = np.flatnonzero((count[:, v] > 0) & (root != v))
        a, b = chosen[r, v], last[r, v]
        succ[r, a], succ[r, b] = succ[r, b], succ[r, a]
    # The Eulerian walk.
    out = np.empty_like(x)
    out[:, 0] = x[:, 0]
    pointer = first.copy()
    for t in range(1, length):
        c = out[:, t - 1]
        p = pointer[rows, c]
        out[:, t] = succ[rows, p]
        pointer[rows, c] = p + 1
    return _LETTERS[out]


def dinucleotide_counts(codes: np.ndarray) -> np.ndarray:
    """Counts of the 25 dinucleotides (ACGTN x ACGTN) per row, shape ``(n, 25)``."""
    x = _INDEX[np.asarray(codes, dtype=np.uint8)]
    pairs = x[:, :-1] * _K + x[:, 1:] + (np.arange(x.shape[0]) * _K * _K)[:, None]
    return np.bincount(pairs.ravel(), minlength=x.shape[0] * _K * _K).reshape(x.shape[0], _K * _K)


def shuffled_negatives(codes: np.ndarray, ratio: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``round(ratio * n)`` dinucleotide shuffles of the rows; returns (sequences, source row per shuffle)."""
    counts = counts_per_positive(codes.shape[0], ratio, rng)
    parent = np.repeat(np.arange(codes.shape[0]), counts)
    return dinucleotide_shuffle(codes[parent], rng), parent


# --------------------------------------------------------------------------- DNABERT promoter negatives


def substitution_negatives(
    codes: np.ndarray, pieces: int, replaced: int, rng: np.random.Generator, ratio: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """DNABERT-Prom negatives: split each sequence into ``pieces`` parts, replace ``replaced`` of them with random bases.

    Returns (sequences, source row per negative).
    """
    counts = counts_per_positive(codes.shape[0], ratio, rng)
    parent = np.repeat(np.arange(codes.shape[0]), counts)
    out = codes[parent].copy()
    n, length = out.shape
    if n == 0:
        return out, parent
    bounds = np.linspace(0, length, pieces + 1).round().astype(np.int64)
    piece_of = np.searchsorted(bounds, np.arange(length), side="right") - 1
    picked = np.argsort(rng.random((n, pieces)), axis=1)[:, :replaced]
    chosen = np.zeros((n, pieces), dtype=bool)
    np.put_along_axis(chosen, picked, True, axis=1)
    mask = chosen[:, piece_of]
    out[mask] = _LETTERS[rng.integers(0, 4, size=int(mask.sum()))]
    return out, parent


# --------------------------------------------------------------------------- flanks


def flank_windows(
    positives: Intervals, offset: int, ratio: float, rng: np.random.Generator
) -> tuple[Intervals, np.ndarray]:
    """Windows shifted by +-``offset`` bp: ``ratio`` per positive (1: a random side, 2: both sides).

    Returns (windows, source row per window); filtering (bounds, overlaps) is left to the caller.
    """
    if not 0 <= ratio <= 2:
        raise ValueError(f"flank ratio must be in [0, 2], got {ratio}")
    n = len(positives)
    counts = counts_per_positive(n, ratio, rng)
    parent = np.repeat(np.arange(n), counts)
    side = np.where(rng.random(n) < 0.5, -1, 1)
    # First flank per positive on a random side, the second on the other side.
    rank = np.arange(len(parent)) - np.repeat(np.cumsum(counts) - counts, counts)
    sign = np.where(rank == 0, side[parent], -side[parent])
    return shifted(positives.take(parent), sign * offset), parent


# --------------------------------------------------------------------------- GC-matched background


@dataclass(frozen=True)
class Candidates:
    """Genome tiles usable as background: chromosome, start and GC fraction."""

    chrom: np.ndarray
    start: np.ndarray
    gc: np.ndarray


def background_tiles(
    genome: GenomeSequence,
    chroms: list[str],
    width: int,
    exclude: IntervalIndex,
    max_n_fraction: float,
    rng: np.random.Generator,
) -> Candidates:
    """Non-overlapping ``width`` bp tiles (random phase per chromosome) outside ``exclude``, with GC."""
    chrom_out, start_out, gc_out = [], [], []
    for chrom in chroms:
        size = genome.sizes[chrom]
        if size < width:
            continue
        phase = int(rng.integers(0, width)) if size >= 2 * width else 0
        m = (size - phase) // width
        tiles = genome.chromosome(chrom)[phase : phase + m * width].reshape(m, width)
        n_count = np.count_nonzero(IS_N[tiles], axis=1)
        gc_count = np.count_nonzero(IS_GC[tiles], axis=1)
        starts = phase + np.arange(m, dtype=np.int64) * width
        keep = n_count <= max_n_fraction * width
        keep &= ~overlaps_sorted(*exclude.blocks(chrom), starts, starts + width)
        chrom_out.append(np.full(int(keep.sum()), chrom, dtype=object))
        start_out.append(starts[keep])
        gc_out.append(gc_count[keep] / np.maximum(width - n_count[keep], 1))
    if not chrom_out:
        return Candidates(np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64), np.zeros(0))
    return Candidates(np.concatenate(chrom_out), np.concatenate(start_out), np.concatenate(gc_out))


def gc_bin(gc: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((np.asarray(gc) * bins).astype(np.int64), bins - 1)


def match_histogram(
    target_gc: np.ndarray, candidate_gc: np.ndarray, total: int, bins: int, rng: np.random.Generator
) -> np.ndarray:
    """Indices of ``total`` candidates whose GC histogram follows ``target_gc``'s (``bins`` equal bins).

    Where a bin has too few candidates, the shortfall is taken from the nearest bins.
    """
    if total == 0 or len(target_gc) == 0:
        return np.zeros(0, dtype=np.int64)
    want = np.bincount(gc_bin(target_gc, bins), minlength=bins) * (total / len(target_gc))
    quota = np.floor(want).astype(np.int64)
    remainder = total - int(quota.sum())
    if remainder:
        quota[np.argsort(-(want - quota), kind="stable")[:remainder]] += 1
    cand_bin = gc_bin(candidate_gc, bins)
    have = np.bincount(cand_bin, minlength=bins)
    take = np.minimum(quota, have)
    short = int((quota - take).sum())
    if short:
        for b in np.flatnonzero(quota > take):
            need = int(quota[b] - take[b])
            for d in range(1, bins):
                for nb in (b - d, b + d):
                    if need and 0 <= nb < bins and have[nb] > take[nb]:
                        extra = min(need, int(have[nb] - take[nb]))
                        take[nb] += extra
                        need -= extra
                if not need:
                    break
        log.info("GC matching: %d of %d background windows taken from neighbouring GC bins", short, total)
    order = np.argsort(cand_bin, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(have)])
    chosen = [
        rng.choice(order[bounds[b] : bounds[b + 1]], size=int(take[b]), replace=False)
        for b in np.flatnonzero(take)
    ]
    picked = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)
    if len(picked) < total:
        log.warning("GC matching: only %d background windows available, %d wanted", len(picked), total)
    return picked


def gc_matched_windows(
    genome: GenomeSequence,
    positive_gc: np.ndarray,
    chroms: list[str],
    width: int,
    total: int,
    exclude: IntervalIndex,
    bins: int,
    max_n_fraction: float,
    rng: np.random.Generator,
) -> tuple[Intervals, np.ndarray]:
    """``total`` background windows on ``chroms`` matched to ``positive_gc``; returns (windows, their GC)."""
    tiles = background_tiles(genome, chroms, width, exclude, max_n_fraction, rng)
    picked = match_histogram(positive_gc, tiles.gc, total, bins, rng)
    chrom, start = tiles.chrom[picked], tiles.start[picked]
    names = np.array([f"{c}:{s}-{s + width}" for c, s in zip(chrom, start.tolist())], dtype=object)
    return Intervals(chrom, start, start + width, name=names), tiles.gc[picked]


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 20) -> float:
    """Total variation distance between the GC histograms of ``a`` and ``b`` (0 = identical, 1 = disjoint)."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    ha = np.bincount(gc_bin(a, bins), minlength=bins) / len(a)
    hb = np.bincount(gc_bin(b, bins), minlength=bins) / len(b)
    return float(0.5 * np.abs(ha - hb).sum())


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (largest gap between the empirical CDFs)."""
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.abs(cdf_a - cdf_b).max())


__all__ = [
    "Candidates", "background_tiles", "counts_per_positive", "dinucleotide_counts", "dinucleotide_shuffle",
    "flank_windows", "gc_matched_windows", "histogram_distance", "ks_statistic", "match_histogram",
    "shuffled_negatives", "substitution_negatives", "within_bounds",
]
