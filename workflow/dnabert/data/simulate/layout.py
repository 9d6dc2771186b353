"""Where everything goes: N gaps, blacklist satellites, genes (promoter + body) and ChIP-seq peaks.

Features never overlap an N gap or each other; peaks may fall in introns but
never over an exon, a splice site or a promoter. :func:`layout_features` also
returns the mask of bases that repeats must leave alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dnabert.data.simulate.checks import fail
from dnabert.data.simulate.model import PROMOTER, Gene, Genome, Peak, place
from dnabert.data.simulate.motifs import Motif
from dnabert.data.simulate.settings import SimulationSettings, TFSpec

# Layout constants (bp).
GENE_PAD = (1000, 500)  # upstream / downstream room kept free of other genes
EXON_PAD = 25  # exon flanks kept free of peaks and repeats (splice sites)
PEAK_CORE = 50  # summit +- this is kept repeat-free
PEAK_WIDTH = (200, 600)
SUMMIT_JITTER = 3  # motif centre lies within this many bp of the summit


def layout_gaps(settings: SimulationSettings, rng: np.random.Generator) -> Genome:
    """The chromosomes, concatenated, with N runs at both ends and ``n_gaps`` internal N gaps each."""
    names = list(settings.chromosomes)
    lengths = np.array([settings.chromosomes[n] for n in names], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    gap = np.zeros(int(offsets[-1]), dtype=bool)
    for off, length in zip(offsets[:-1].tolist(), lengths.tolist()):
        telomere = min(10_000, max(100, length // 100))
        gap[off : off + telomere] = True
        gap[off + length - telomere : off + length] = True
        for _ in range(settings.n_gaps):
            high = min(50_000, max(101, length // 50))
            size = int(rng.integers(min(max(100, length // 200), high - 1), high + 1))
            start = place(rng, gap, size, pad=size, lo=off, hi=off + length)
            if start is None:
                raise fail("n_gaps", f"cannot fit {settings.n_gaps} gaps into a {length} bp chromosome")
            gap[start : start + size] = True
    return Genome(names=names, offsets=offsets, gap=gap)


@dataclass
class _Masks:
    """Per-base masks filled in while features are placed."""

    blocked_genes: np.ndarray  # no gene (with its padding) may start here
    blocked_peaks: np.ndarray  # no peak may overlap
    protected: np.ndarray  # repeat-free: exons (+ flanks), promoters, peak cores
    satellite: np.ndarray  # blacklist satellites

    @classmethod
    def empty(cls, genome: Genome) -> _Masks:
        total = genome.total
        return cls(genome.gap.copy(), genome.gap.copy(), np.zeros(total, dtype=bool), np.zeros(total, dtype=bool))


def layout_features(
    genome: Genome, settings: SimulationSettings, motifs: dict[str, Motif], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Place blacklist satellites, genes and peaks; return (repeat-free mask, satellite mask)."""
    masks = _Masks.empty(genome)
    _place_blacklist(genome, settings, masks, rng)
    for _ in range(settings.genes):
        genome.genes.append(_place_gene(settings, masks, rng))
    _name_genes(genome)
    _choose_tata(genome, settings.tata_fraction, rng)
    for tf in settings.tfs:
        genome.peaks.extend(_place_peaks(tf, motifs[tf.motif].length, masks, rng))
    return masks.protected | masks.satellite, masks.satellite


def _place_blacklist(
    genome: Genome, settings: SimulationSettings, masks: _Masks, rng: np.random.Generator
) -> None:
    """``blacklist_regions`` regions of 3-8 kb, 2 kb clear of gaps and each other, blocked for everything."""
    for _ in range(settings.blacklist_regions):
        size = int(rng.integers(3_000, 8_001))
        start = place(rng, masks.blocked_genes, size, pad=2_000)
        if start is None:
            raise fail("blacklist_regions", f"cannot fit {settings.blacklist_regions} blacklist regions")
        genome.blacklist.append((start, start + size))
        for mask in (masks.blocked_genes, masks.blocked_peaks, masks.satellite):
            mask[start : start + size] = True


def _make_gene(rng: np.random.Generator) -> tuple[list[tuple[int, int]], list[tuple[int, ...]]]:
    """Exon coordinates relative to the gene start, and transcripts (1 or 2, exon skipping)."""
    n_exons = int(rng.integers(2, 9))
    exon_len = rng.integers(50, 301, size=n_exons)
    intron_len = np.exp(rng.uniform(math.log(200), math.log(3000), size=n_exons - 1)).astype(int)
    exons, pos = [], 0
    for i in range(n_exons):
        exons.append((pos, pos + int(exon_len[i])))
        pos += int(exon_len[i]) + (int(intron_len[i]) if i < n_exons - 1 else 0)
    transcripts = [tuple(range(n_exons))]
    if n_exons >= 3 and rng.random() < 0.4:
        skip = int(rng.integers(1, n_exons - 1))
        transcripts.append(tuple(i for i in range(n_exons) if i != skip))
    return exons, transcripts


def _place_gene(settings: SimulationSettings, masks: _Masks, rng: np.random.Generator) -> Gene:
    """One gene on a random strand, clear of other genes; its exons and promoter blocked for peaks and repeats."""
    exons, transcripts = _make_gene(rng)
    strand = "+" if rng.random() < 0.5 else "-"
    span = exons[-1][1]
    up, down = GENE_PAD if strand == "+" else GENE_PAD[::-1]
    start = place(rng, masks.blocked_genes, up + span + down)
    if start is None:
        raise fail("genes", f"cannot fit {settings.genes} genes into the genome; use fewer or longer chromosomes")
    masks.blocked_genes[start : start + up + span + down] = True
    gene = Gene(strand=strand, exons=[(s + start + up, e + start + up) for s, e in exons], transcripts=transcripts)
    for s, e in gene.exons:
        masks.blocked_peaks[s - EXON_PAD : e + EXON_PAD] = True
        masks.protected[s - EXON_PAD : e + EXON_PAD] = True
    lo, hi = gene.window(PROMOTER)
    masks.blocked_peaks[lo:hi] = True
    masks.protected[lo:hi] = True
    return gene


def _name_genes(genome: Genome) -> None:
    """Sort the genes by position and number them ``SIMG00001``, ``SIMG00002``, ..."""
    genome.genes.sort(key=lambda g: (g.start, g.end))
    for i, gene in enumerate(genome.genes):
        gene.gene_id = f"SIMG{i + 1:05d}"


def _choose_tata(genome: Genome, tata_fraction: float, rng: np.random.Generator) -> None:
    """Mark a random ``tata_fraction`` of the genes as having a TATA box."""
    n_tata = round(tata_fraction * len(genome.genes))
    for i in rng.permutation(len(genome.genes))[:n_tata]:
        genome.genes[int(i)].tata = True


def _place_peaks(tf: TFSpec, motif_len: int, masks: _Masks, rng: np.random.Generator) -> list[Peak]:
    """``tf.peaks`` peaks of one factor, a random ``motif_fraction`` of them to carry its motif."""
    with_motif = np.zeros(tf.peaks, dtype=bool)
    with_motif[rng.permutation(tf.peaks)[: round(tf.motif_fraction * tf.peaks)]] = True
    peaks = []
    for has_motif in with_motif.tolist():
        width = int(rng.integers(PEAK_WIDTH[0], PEAK_WIDTH[1] + 1))
        start = place(rng, masks.blocked_peaks, width, pad=10)
        if start is None:
            raise fail("tfs", f"cannot fit {tf.peaks} {tf.name} peaks; use fewer peaks or a larger genome")
        edge = max(PEAK_CORE, motif_len + SUMMIT_JITTER)
        offset = int(np.clip(round(width / 2 + rng.normal(0, width / 10)), edge, width - edge))
        peak = Peak(tf=tf.name, start=start, end=start + width, summit=start + offset, has_motif=has_motif)
        masks.blocked_peaks[start : start + width] = True
        masks.protected[peak.summit - PEAK_CORE : peak.summit + PEAK_CORE] = True
        peaks.append(peak)
    return peaks
