"""Soft-masked repeats: random repeat families copied with divergence, and blacklist satellite arrays.

A handful of random "repeat family" consensus sequences (SINE-like ~300 bp,
LINE-like 6 kb copied 5'-truncated, LTR/DNA-like 0.5-1.5 kb) and simple repeats
such as ``(CA)n`` are copied, on either strand, into random writable places with
10-15 % substitutions (2-6 % for simple repeats) until ``repeat_fraction`` of the
non-N bases is covered; the blacklist satellites count towards it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnabert.data.simulate.codes import A, C, COMPLEMENT, G, T, encode
from dnabert.data.simulate.composition import draw_bases, starting_gc
from dnabert.data.simulate.model import Genome
from dnabert.data.simulate.settings import SimulationSettings

# Share of repeat-covered bases per kind, divergence range, and mean copy length (for counts).
_KIND_SHARE = {"sine": 0.30, "line": 0.45, "ltr": 0.20, "simple": 0.05}
_KIND_DIVERGENCE = {"sine": (0.10, 0.15), "line": (0.10, 0.15), "ltr": (0.10, 0.15), "simple": (0.02, 0.06)}
_KIND_MEAN_LENGTH = {"sine": 250, "line": 900, "ltr": 650, "simple": 110}


@dataclass(frozen=True)
class _Family:
    kind: str  # sine, line, ltr, simple
    consensus: np.ndarray
    gc: float


def _repeat_families(rng: np.random.Generator, g0: float) -> list[_Family]:
    """A handful of random interspersed-repeat consensus sequences plus simple repeats."""
    fams = []
    for _ in range(2):
        body = draw_bases(rng, min(g0 + 0.08, 0.9), int(rng.integers(260, 300)))
        fams.append(_Family("sine", np.concatenate([body, np.full(20, A, np.uint8)]), g0 + 0.08))
    for _ in range(2):
        fams.append(_Family("line", draw_bases(rng, g0 - 0.05, 6000), g0 - 0.05))
    for _ in range(2):
        fams.append(_Family("ltr", draw_bases(rng, g0, int(rng.integers(500, 1501))), g0))
    for unit in ("CA", "TG", "A", "T", "TA", "GAA", "TTC", "CAG", "GGAA", "TTAGGG", "AATG"):
        tiled = encode(unit * (400 // len(unit) + 1))[:400]
        fams.append(_Family("simple", tiled, float(np.isin(tiled, (C, G)).mean())))
    return fams


def _fragments(
    rng: np.random.Generator, fams: list[_Family], fam_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Start and length within the consensus for one copy of each chosen family."""
    cons_len = np.array([f.consensus.size for f in fams])[fam_idx]
    kinds = np.array([f.kind for f in fams])[fam_idx]
    n = fam_idx.size
    length = cons_len.copy()
    # SINE: 70 % full length, else 5'-truncated; LINE: mostly short 5'-truncated copies.
    sine_trunc = np.where(rng.random(n) < 0.7, 0, (rng.random(n) * 0.6 * cons_len).astype(int))
    length = np.where(kinds == "sine", cons_len - sine_trunc, length)
    line_len = np.minimum(cons_len, 80 + rng.exponential(900, n).astype(int))
    length = np.where(kinds == "line", line_len, length)
    length = np.where(kinds == "ltr", (cons_len * rng.uniform(0.3, 1.0, n)).astype(int), length)
    length = np.where(kinds == "simple", rng.integers(20, 201, n), length)
    free = cons_len - length
    start = np.where(np.isin(kinds, ("sine", "line")), free, (rng.random(n) * (free + 1)).astype(int))
    return start, length


def _mutate(rng: np.random.Generator, codes: np.ndarray, rate: np.ndarray, gc: np.ndarray) -> np.ndarray:
    """Substitute each base with probability ``rate`` by a different base (composition ~ ``gc``)."""
    hit = np.flatnonzero(rng.random(codes.size) < rate)
    out = codes.copy()
    new = draw_bases(rng, gc[hit], hit.size)
    same = new == out[hit]
    # Redraw collisions once as a transition (A<->G, C<->T), which keeps the divergence.
    new[same] = np.array([G, T, A, C], dtype=np.uint8)[out[hit][same]]
    out[hit] = new
    return out


def _copy_repeats(
    rng: np.random.Generator,
    seq: np.ndarray,
    genome: Genome,
    fams: list[_Family],
    fam_idx: np.ndarray,
    writable: np.ndarray,
    masked: np.ndarray,
) -> None:
    """Copy one diverged fragment of each chosen family into a random place (in place)."""
    cons_start, length = _fragments(rng, fams, fam_idx)
    length = np.maximum(length, 1)
    pos = (rng.random(fam_idx.size) * (genome.total - length)).astype(np.int64)
    chrom_a = np.searchsorted(genome.offsets, pos, side="right")
    chrom_b = np.searchsorted(genome.offsets, pos + length - 1, side="right")
    keep = chrom_a == chrom_b
    fam_idx, cons_start, length, pos = fam_idx[keep], cons_start[keep], length[keep], pos[keep]
    reverse = rng.random(fam_idx.size) < 0.5
    kinds = np.array([f.kind for f in fams])[fam_idx]
    lo, hi = np.array([_KIND_DIVERGENCE[k] for k in kinds]).reshape(-1, 2).T
    divergence = rng.uniform(lo, hi) if fam_idx.size else np.zeros(0)
    fam_gc = np.array([f.gc for f in fams])[fam_idx]

    cons_all = np.concatenate([f.consensus for f in fams])
    fam_off = np.concatenate([[0], np.cumsum([f.consensus.size for f in fams])])[:-1][fam_idx]
    total = int(length.sum())
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    local = np.arange(total) - np.repeat(first, length)
    rev = np.repeat(reverse, length)
    within = np.where(
        rev, np.repeat(cons_start + length - 1, length) - local, np.repeat(cons_start, length) + local
    )
    codes = cons_all[np.repeat(fam_off, length) + within]
    codes = np.where(rev, COMPLEMENT[codes], codes)
    codes = _mutate(rng, codes, np.repeat(divergence, length), np.repeat(fam_gc, length))
    target = np.repeat(pos, length) + local
    ok = writable[target]
    seq[target[ok]] = codes[ok]
    masked[target[ok]] = True


def add_repeats(
    seq: np.ndarray,
    genome: Genome,
    settings: SimulationSettings,
    protected: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Soft-masked repeat copies until ``repeat_fraction`` of non-N bases is covered; returns the mask."""
    g0 = float(starting_gc(settings.gc, settings.cpg_ratio)[0])
    fams = _repeat_families(rng, g0)
    masked = np.zeros(genome.total, dtype=bool)
    _add_satellites(seq, genome, g0, masked, rng)
    writable = ~(protected | genome.gap)
    real = int((~genome.gap).sum())
    target = settings.repeat_fraction * real
    kinds = np.array([f.kind for f in fams])
    weight = np.array([_KIND_SHARE[k] / _KIND_MEAN_LENGTH[k] / (kinds == k).sum() for k in kinds])
    weight /= weight.sum()
    mean_copy = float(sum(weight[kinds == k].sum() * _KIND_MEAN_LENGTH[k] for k in _KIND_MEAN_LENGTH))
    for _ in range(200):
        covered = int(masked.sum())
        deficit = target - covered
        if deficit <= max(200.0, 0.0005 * real):
            break
        count = max(1, int(deficit / mean_copy))
        _copy_repeats(rng, seq, genome, fams, rng.choice(len(fams), size=count, p=weight), writable, masked)
    return masked


def _add_satellites(
    seq: np.ndarray, genome: Genome, g0: float, masked: np.ndarray, rng: np.random.Generator
) -> None:
    """Blacklist regions: tandem arrays of an alpha-satellite-like 171 bp monomer, 2-5 % diverged."""
    monomer = draw_bases(rng, g0 - 0.06, 171)
    for start, end in genome.blacklist:
        size = end - start
        tiled = np.tile(monomer, size // monomer.size + 1)[:size]
        rate = np.full(size, rng.uniform(0.02, 0.05))
        seq[start:end] = _mutate(rng, tiled, rate, np.full(size, g0 - 0.06))
        masked[start:end] = True
