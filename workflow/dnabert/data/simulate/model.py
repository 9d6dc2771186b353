"""The simulated genome's coordinates and placed features: :class:`Genome`, :class:`Gene`, :class:`Peak`, :class:`Site`.

All coordinates are global: 0-based positions in the concatenation of the
chromosomes (:meth:`Genome.locate` turns them into chromosome and local position).
:func:`place` finds a free spot for a feature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROMOTER = (-500, 100)  # GC-rich, repeat-free, peak-free window around the TSS (bp)


@dataclass
class Gene:
    strand: str
    exons: list[tuple[int, int]]  # genomic (global) order, half-open
    transcripts: list[tuple[int, ...]]  # exon indices per transcript (genomic order)
    tata: bool = False
    gene_id: str = ""

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def tss(self) -> int:
        """Global coordinate of the first transcribed base."""
        return self.start if self.strand == "+" else self.end - 1

    def window(self, rel: tuple[int, int]) -> tuple[int, int]:
        """Half-open genomic interval for a TSS-relative window ``[lo, hi)`` on the gene's strand."""
        lo, hi = rel
        if self.strand == "+":
            return self.tss + lo, self.tss + hi
        return self.tss - hi + 1, self.tss - lo + 1

    def transcript_id(self, k: int) -> str:
        return f"{self.gene_id.replace('SIMG', 'SIMT')}.{k + 1}"


@dataclass
class Peak:
    tf: str
    start: int
    end: int
    summit: int  # global coordinate
    has_motif: bool = False
    signal: float = 0.0
    pvalue: float = 0.0
    qvalue: float = 0.0
    score: int = 0
    name: str = ""


@dataclass
class Site:
    """A planted feature (``tf_motif``, ``tata_box``, ``donor``, ``acceptor``), recorded in ``truth.tsv``."""

    feature: str
    start: int
    end: int
    strand: str
    motif_id: str
    motif_name: str
    codes: np.ndarray  # as planted on the + strand
    owner: Any  # Peak or (gene, transcript index)


@dataclass
class Genome:
    names: list[str]
    offsets: np.ndarray  # chromosome starts in the concatenated genome, plus the total
    gap: np.ndarray
    blacklist: list[tuple[int, int]] = field(default_factory=list)
    genes: list[Gene] = field(default_factory=list)
    peaks: list[Peak] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def locate(self, pos: int) -> tuple[str, int]:
        """Chromosome name and 0-based local coordinate of a global position."""
        i = int(np.searchsorted(self.offsets, pos, side="right")) - 1
        return self.names[i], int(pos - self.offsets[i])


def place(
    rng: np.random.Generator,
    blocked: np.ndarray,
    length: int,
    pad: int = 0,
    lo: int = 0,
    hi: int | None = None,
    tries: int = 4000,
) -> int | None:
    """Random start s in [lo, hi - length) with ``blocked[s - pad : s + length + pad]`` all free."""
    hi = blocked.size if hi is None else hi
    first, last = lo + pad, hi - length - pad
    if last <= first:
        return None
    for _ in range(tries // 64):
        for s in rng.integers(first, last, size=64):
            s = int(s)
            if not blocked[s - pad : s + length + pad].any():
                return s
    return None
