"""Base composition: the GC model, background bases, CpG deamination, and measuring a sequence.

The background is drawn at a *starting* GC ``g0`` (:func:`starting_gc`) chosen so
that the later CpG decay (:func:`deaminate`) lands on the target GC, in
isochore-like blocks, with GC-richer promoters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dnabert.data.simulate.codes import A, C, ENCODE, G, N, T
from dnabert.data.simulate.model import PROMOTER, Genome
from dnabert.data.simulate.settings import SimulationSettings

ISOCHORE = (50_000, 150_000)  # block length range (bp)
ISOCHORE_SD = 0.03
PROMOTER_GC_BOOST = 0.10


def starting_gc(gc: float | np.ndarray, cpg_ratio: float) -> tuple[Any, Any]:
    """GC before deamination and the CpG fraction to convert, for a target GC and CpG o/e."""
    gc = np.asarray(gc, dtype=float)
    g0 = 2.0 - np.sqrt(4.0 - 4.0 * gc + cpg_ratio * gc**2)
    conversion = np.clip(4.0 * (g0 - gc) / g0**2, 0.0, 1.0)
    return g0, conversion


def draw_bases(rng: np.random.Generator, gc: float | np.ndarray, size: int) -> np.ndarray:
    """Independent bases with P(G or C) = ``gc`` (scalar or per base), strand-symmetric."""
    is_gc = rng.random(size) < gc
    first = rng.random(size) < 0.5
    table = np.array([T, A, G, C], dtype=np.uint8)
    return table[is_gc.astype(np.uint8) * 2 + first]


def background(
    genome: Genome,
    settings: SimulationSettings,
    seq: np.ndarray,
    masked: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Fill the bases outside repeats (in place): isochore-structured i.i.d. bases at the
    pre-deamination GC, GC-richer promoters, shifted so that the whole genome (repeats
    included) has the intended pre-deamination GC."""
    total = genome.total
    n_blocks = total // ISOCHORE[0] + 2
    sizes = rng.integers(ISOCHORE[0], ISOCHORE[1] + 1, size=n_blocks)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), total)) + 1]
    sizes[-1] -= int(sizes.sum()) - total
    dev = rng.normal(0.0, ISOCHORE_SD, size=sizes.size)
    dev -= np.average(dev, weights=sizes)
    block_gc = np.clip(settings.gc + dev, 0.2, 0.8)
    g0, _ = starting_gc(block_gc, settings.cpg_ratio)
    p_iso = np.repeat(g0, sizes)
    p_gc = p_iso.copy()
    for gene in genome.genes:
        lo, hi = gene.window(PROMOTER)
        p_gc[lo:hi] = np.minimum(p_gc[lo:hi] + PROMOTER_GC_BOOST, 0.9)
    real = ~genome.gap
    free = real & ~masked
    if free.any():
        fixed_gc = int(np.isin(seq[masked & real], (C, G)).sum())
        shift = (p_iso[real].sum() - fixed_gc - p_gc[free].sum()) / free.sum()
        p_gc = np.clip(p_gc + shift, 0.05, 0.95)
    seq[free] = draw_bases(rng, p_gc, total)[free]


def deaminate(
    seq: np.ndarray, gap: np.ndarray, planted: np.ndarray, cpg_ratio: float, rng: np.random.Generator
) -> int:
    """Turn unplanted CpGs into TpG/CpA until the genome-wide CpG o/e equals ``cpg_ratio``; returns how many."""
    real = ~gap
    n = float(real.sum())
    c = float(((seq == C) & real).sum())
    g = float(((seq == G) & real).sum())
    is_cpg = (seq[:-1] == C) & (seq[1:] == G) & real[:-1] & real[1:]
    x = float(is_cpg.sum())
    # Solve x - k = r (c - k/2)(g - k/2) / n for the number k of conversions.
    a, b, c0 = cpg_ratio / (4 * n), 1 - cpg_ratio * (c + g) / (2 * n), -(x - cpg_ratio * c * g / n)
    k = -c0 / b if a == 0 else (-b + math.sqrt(max(b * b - 4 * a * c0, 0.0))) / (2 * a)
    candidates = np.flatnonzero(is_cpg & ~planted[:-1] & ~planted[1:])
    if k <= 0 or candidates.size == 0:
        return 0
    chosen = candidates[rng.random(candidates.size) < min(1.0, k / candidates.size)]
    to_t = rng.random(chosen.size) < 0.5
    seq[chosen[to_t]] = T
    seq[chosen[~to_t] + 1] = A
    return int(chosen.size)


@dataclass(frozen=True)
class Composition:
    """Genome-wide composition of a sequence (case-insensitive, N excluded)."""

    bases: int
    gc: float
    cpg_ratio: float
    masked_fraction: float
    n_fraction: float


def composition(sequence: bytes | np.ndarray) -> Composition:
    """GC, observed/expected CpG, soft-masked fraction of non-N bases, and N fraction of letter bytes."""
    raw = np.frombuffer(sequence, dtype=np.uint8) if isinstance(sequence, (bytes, bytearray)) else sequence
    codes = ENCODE[raw]
    real = codes != N
    n = int(real.sum())
    c, g = int((codes == C).sum()), int((codes == G).sum())
    cpg = int(((codes[:-1] == C) & (codes[1:] == G)).sum())
    lower = int(((raw >= ord("a")) & real).sum())
    return Composition(
        bases=n,
        gc=(c + g) / max(n, 1),
        cpg_ratio=cpg * n / max(c * g, 1),
        masked_fraction=lower / max(n, 1),
        n_fraction=1.0 - n / max(raw.size, 1),
    )
