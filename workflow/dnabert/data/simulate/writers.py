"""The simulation's output files: FASTA, GTF, narrowPeak, blacklist BED and the truth table.

All are written atomically; the gzip files with a fixed compression level (and
no timestamp, see :func:`dnabert.io.atomic_write`), so they are byte-identical
for the same genome.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dnabert.data.simulate.codes import decode, letters
from dnabert.data.simulate.model import Gene, Genome, Peak, Site
from dnabert.data.simulate.settings import SimulationSettings
from dnabert.io import atomic_write

FASTA_WIDTH = 70
GTF_SOURCE = "dnabert_sim"
TRUTH_COLUMNS = ("feature", "chrom", "start", "end", "strand", "motif_id", "motif_name", "sequence", "name")


def _wrap(line: np.ndarray, width: int = FASTA_WIDTH) -> bytes:
    """Bytes wrapped at ``width`` columns, each line ending in a newline."""
    n = line.size
    if n == 0:
        return b""
    rows = -(-n // width)
    buf = np.full((rows, width + 1), ord("\n"), dtype=np.uint8)
    padded = np.zeros(rows * width, dtype=np.uint8)
    padded[:n] = line
    buf[:, :width] = padded.reshape(rows, width)
    last = n - (rows - 1) * width
    buf[-1, last] = ord("\n")
    return buf.reshape(-1)[: (rows - 1) * (width + 1) + last + 1].tobytes()


def write_fasta(path: Path, genome: Genome, seq: np.ndarray, masked: np.ndarray) -> None:
    """Plain gzip FASTA, :data:`FASTA_WIDTH` columns, ``masked`` bases in lower case."""
    text = letters(seq, masked)
    with atomic_write(path, "wb", gzip_level=6) as out:
        for i, name in enumerate(genome.names):
            out.write(f">{name}\n".encode("ascii"))
            out.write(_wrap(text[genome.offsets[i] : genome.offsets[i + 1]]))


def _attributes(pairs: Sequence[tuple[str, str]]) -> str:
    return " ".join(f'{key} "{value}";' for key, value in pairs)


def _gene_rows(genome: Genome, gene: Gene) -> list[tuple]:
    """GTF rows of one gene, its transcripts and their exons, each led by a sort key."""
    chrom, start = genome.locate(gene.start)
    cidx = genome.names.index(chrom)
    end = start + gene.end - gene.start
    base = [("gene_id", gene.gene_id)]
    named = [("gene_name", gene.gene_id.replace("SIMG", "SIM")), ("gene_biotype", "protein_coding")]
    rows = [(cidx, start, 0, "", chrom, "gene", start, end, gene.strand, _attributes(base + named))]
    for k, exon_idx in enumerate(gene.transcripts):
        tid = gene.transcript_id(k)
        tx = base + [("transcript_id", tid)] + named + [("transcript_biotype", "protein_coding")]
        t_start = gene.exons[exon_idx[0]][0] - gene.start + start
        t_end = gene.exons[exon_idx[-1]][1] - gene.start + start
        rows.append((cidx, t_start, 1, tid, chrom, "transcript", t_start, t_end, gene.strand, _attributes(tx)))
        order = exon_idx if gene.strand == "+" else exon_idx[::-1]
        for number, i in enumerate(order, start=1):
            s = gene.exons[i][0] - gene.start + start
            e = gene.exons[i][1] - gene.start + start
            attrs = _attributes(tx + [("exon_number", str(number))])
            rows.append((cidx, s, 2, tid, chrom, "exon", s, e, gene.strand, attrs))
    return rows


def write_gtf(path: Path, genome: Genome) -> None:
    """Gzipped GTF of the genes: gene, transcript and exon lines, sorted by position."""
    rows = [row for gene in genome.genes for row in _gene_rows(genome, gene)]
    rows.sort(key=lambda r: r[:4])
    with atomic_write(path, gzip_level=6) as out:
        for _, _, _, _, chrom, feature, s, e, strand, attrs in rows:
            out.write(f"{chrom}\t{GTF_SOURCE}\t{feature}\t{s + 1}\t{e}\t.\t{strand}\t.\t{attrs}\n")


def write_peaks(out_dir: Path, genome: Genome, settings: SimulationSettings) -> None:
    """``peaks/{TF}.narrowPeak.gz`` per factor, sorted by position; names the peaks ``{TF}_peak_{i}``."""
    for tf in settings.tfs:
        peaks = sorted((p for p in genome.peaks if p.tf == tf.name), key=lambda p: p.start)
        with atomic_write(out_dir / "peaks" / f"{tf.name}.narrowPeak.gz", gzip_level=6) as out:
            for i, p in enumerate(peaks):
                p.name = f"{tf.name}_peak_{i}"
                chrom, start = genome.locate(p.start)
                end = start + p.end - p.start
                out.write(
                    f"{chrom}\t{start}\t{end}\t.\t{p.score}\t.\t{p.signal:.5f}\t{p.pvalue:.5f}\t"
                    f"{p.qvalue:.5f}\t{p.summit - p.start}\n"
                )


def write_blacklist(path: Path, genome: Genome) -> None:
    """Gzipped BED3 of the blacklist regions, sorted."""
    with atomic_write(path, gzip_level=6) as out:
        for s, e in sorted(genome.blacklist):
            chrom, start = genome.locate(s)
            out.write(f"{chrom}\t{start}\t{start + e - s}\n")


def write_truth(path: Path, genome: Genome, sites: list[Site]) -> None:
    """``truth.tsv``: every planted site (columns :data:`TRUTH_COLUMNS`), after :func:`write_peaks` named the peaks."""
    rows = []
    for site in sites:
        chrom, start = genome.locate(site.start)
        if isinstance(site.owner, Peak):
            name = site.owner.name
        else:
            gene, k = site.owner
            name = gene.transcript_id(k)
        rows.append((genome.names.index(chrom), start, site.feature, chrom, site.end - site.start, site, name))
    rows.sort(key=lambda r: r[:3])
    with atomic_write(path) as out:
        out.write("\t".join(TRUTH_COLUMNS) + "\n")
        for _, start, feature, chrom, length, site, name in rows:
            fields = (
                feature,
                chrom,
                start,
                start + length,
                site.strand,
                site.motif_id,
                site.motif_name,
                decode(site.codes),
                name,
            )
            out.write("\t".join(map(str, fields)) + "\n")
