"""The entry point :func:`simulate`: every stage in order, each on its own seeded random stream."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np

from dnabert.data.simulate.codes import N, letters
from dnabert.data.simulate.composition import background, composition, deaminate
from dnabert.data.simulate.features import motif_sites, peak_scores, splice_sites, tata_sites
from dnabert.data.simulate.layout import layout_features, layout_gaps
from dnabert.data.simulate.model import Genome, Site
from dnabert.data.simulate.motifs import TATA_MOTIF, Motif, load_motifs
from dnabert.data.simulate.repeats import add_repeats
from dnabert.data.simulate.settings import SimulationSettings
from dnabert.data.simulate.writers import write_blacklist, write_fasta, write_gtf, write_peaks, write_truth
from dnabert.io import PathLike

log = logging.getLogger(__name__)


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent, reproducible random stream per simulation stage."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def simulate(settings: SimulationSettings, out_dir: PathLike) -> None:
    """Write the simulated genome, annotation, peaks, blacklist and truth table into ``out_dir``.

    Files: ``genome.fa.gz`` (plain gzip, 70 columns, repeats soft-masked),
    ``genes.gtf.gz``, ``peaks/{TF}.narrowPeak.gz``, ``blacklist.bed.gz`` and
    ``truth.tsv`` (planted tf_motif, tata_box, donor and acceptor sites,
    0-based half-open, sequence as on the + strand). All are written atomically
    and are byte-identical for the same settings.
    """
    out = Path(out_dir)
    motifs = load_motifs(settings)
    genome = layout_gaps(settings, stream(settings.seed, "gaps"))
    protected, _ = layout_features(genome, settings, motifs, stream(settings.seed, "layout"))
    log.info(
        "layout: %d bp, %d genes, %d peaks, %d blacklist regions",
        genome.total,
        len(genome.genes),
        len(genome.peaks),
        len(genome.blacklist),
    )

    seq = np.zeros(genome.total, dtype=np.uint8)
    masked = add_repeats(seq, genome, settings, protected, stream(settings.seed, "repeats"))
    background(genome, settings, seq, masked, stream(settings.seed, "background"))
    sites = _planted_sites(genome, settings, motifs, stream(settings.seed, "features"))
    planted = np.zeros(genome.total, dtype=bool)
    for site in sites:
        seq[site.start : site.end] = site.codes
        planted[site.start : site.end] = True
    converted = deaminate(seq, genome.gap, planted, settings.cpg_ratio, stream(settings.seed, "deamination"))
    seq[genome.gap] = N
    masked &= ~(planted | genome.gap)
    peak_scores(genome, stream(settings.seed, "scores"))

    write_fasta(out / "genome.fa.gz", genome, seq, masked)
    write_gtf(out / "genes.gtf.gz", genome)
    write_peaks(out, genome, settings)
    write_blacklist(out / "blacklist.bed.gz", genome)
    write_truth(out / "truth.tsv", genome, sites)

    stats = composition(letters(seq, masked))
    log.info(
        "genome: GC %.4f, CpG o/e %.3f (%d CpGs deaminated), soft-masked %.3f, N %.3f; %d planted sites",
        stats.gc,
        stats.cpg_ratio,
        converted,
        stats.masked_fraction,
        stats.n_fraction,
        len(sites),
    )


def _planted_sites(
    genome: Genome, settings: SimulationSettings, motifs: dict[str, Motif], rng: np.random.Generator
) -> list[Site]:
    """Splice sites, then TATA boxes, then peak motifs, all drawn from the one ``features`` stream."""
    return (
        splice_sites(genome, rng)
        + tata_sites(genome, motifs[TATA_MOTIF], rng)
        + motif_sites(genome, settings, motifs, rng)
    )
