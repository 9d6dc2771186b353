"""What the planted features carry: splice consensus and TATA boxes at genes, motif sites at peak
summits (each a :class:`~dnabert.data.simulate.model.Site`), and the peaks' ENCODE-style scores.

Splice consensus at every exon boundary (donor ``AG|GTRAGT``; acceptor 12
pyrimidines, ``N``, ``YAG|G``) on the transcript's strand; for the TATA genes a
site sampled from JASPAR TBP starting 30-34 bp upstream of the TSS; in each
motif peak one site sampled from its factor's matrix, on a random strand,
centred within ``SUMMIT_JITTER`` bp of the summit.
"""

from __future__ import annotations

import numpy as np

from dnabert.data.simulate.codes import A, C, G, T, encode, reverse_complement
from dnabert.data.simulate.layout import SUMMIT_JITTER
from dnabert.data.simulate.model import Gene, Genome, Site
from dnabert.data.simulate.motifs import Motif, sample_site
from dnabert.data.simulate.settings import SimulationSettings

TATA_OFFSET = -32  # TATA matrix start relative to the TSS (core TATAAA at -31..-26)


def splice_sites(genome: Genome, rng: np.random.Generator) -> list[Site]:
    """Donor ``AG|GTRAGT`` and acceptor ``Y12 N YAG|G`` at every exon boundary, on the gene's strand."""
    sites = []
    for gene in genome.genes:
        n = len(gene.exons)
        for i, (s, e) in enumerate(gene.exons):
            # In genomic order the + strand donor follows exon i < n-1; on - strand roles swap.
            right_site = "donor" if gene.strand == "+" else "acceptor"
            left_site = "acceptor" if gene.strand == "+" else "donor"
            if i < n - 1:
                sites.append(_splice_site(rng, gene, right_site, e))
            if i > 0:
                sites.append(_splice_site(rng, gene, left_site, s))
    return sites


def _splice_site(rng: np.random.Generator, gene: Gene, kind: str, boundary: int) -> Site:
    """One splice site in transcript orientation, placed at an exon-intron ``boundary``."""
    if kind == "donor":
        purine = "AG"[int(rng.integers(2))]
        motif = encode("AGGT" + purine + "AGT")  # exon |AG| + intron GTRAGT
        before = 2  # exon bases before the boundary in transcript orientation
    else:
        ppt = np.where(rng.random(12) < 0.6, T, C).astype(np.uint8)
        tail = np.array([int(rng.integers(4)), (C, T)[int(rng.integers(2))], A, G, G], dtype=np.uint8)
        motif = np.concatenate([ppt, tail])  # intron Y12 N Y A G | exon G
        before = motif.size - 1
    length = motif.size
    if gene.strand == "+":
        start = boundary - before
        codes = motif
    else:
        start = boundary - (length - before)
        codes = reverse_complement(motif)
    return Site(kind, start, start + length, gene.strand, ".", ".", codes, (gene, 0))


def tata_sites(genome: Genome, motif: Motif, rng: np.random.Generator) -> list[Site]:
    """A TBP site about 32 bp upstream of the TSS of every gene marked ``tata``."""
    sites = []
    for gene in genome.genes:
        if not gene.tata:
            continue
        site = sample_site(rng, motif.probs)[0]
        off = TATA_OFFSET + int(rng.integers(-2, 3))
        lo, hi = gene.window((off, off + motif.length))
        codes = site if gene.strand == "+" else reverse_complement(site)
        sites.append(Site("tata_box", lo, hi, gene.strand, motif.matrix_id, motif.name, codes, (gene, 0)))
    return sites


def motif_sites(
    genome: Genome, settings: SimulationSettings, motifs: dict[str, Motif], rng: np.random.Generator
) -> list[Site]:
    """One site of its factor's matrix near the summit of every motif peak, on a random strand."""
    sites = []
    by_tf = {tf.name: motifs[tf.motif] for tf in settings.tfs}
    for peak in genome.peaks:
        if not peak.has_motif:
            continue
        motif = by_tf[peak.tf]
        site = sample_site(rng, motif.probs)[0]
        strand = "+" if rng.random() < 0.5 else "-"
        start = peak.summit - motif.length // 2 + int(rng.integers(-SUMMIT_JITTER, SUMMIT_JITTER + 1))
        codes = site if strand == "+" else reverse_complement(site)
        sites.append(Site("tf_motif", start, start + motif.length, strand, motif.matrix_id, motif.name, codes, peak))
    return sites


def peak_scores(genome: Genome, rng: np.random.Generator) -> None:
    """ENCODE-like signal, -log10 p/q and score; motif peaks are stronger on average."""
    peaks = genome.peaks
    if not peaks:
        return
    motif = np.array([p.has_motif for p in peaks])
    signal = rng.lognormal(np.where(motif, 3.0, 2.4), 0.45)
    pvalue = 2.0 + signal * rng.uniform(1.6, 2.4, signal.size)
    qvalue = np.maximum(pvalue - 1.3 - rng.uniform(0.0, 0.5, signal.size), 0.0)
    score = np.minimum(1000, np.round(pvalue * 10)).astype(int)
    for p, s, pv, qv, sc in zip(peaks, signal.tolist(), pvalue.tolist(), qvalue.tolist(), score.tolist()):
        p.signal, p.pvalue, p.qvalue, p.score = s, pv, qv, sc
