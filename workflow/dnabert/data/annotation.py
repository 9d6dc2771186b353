"""Gene annotation: GTF/BED parsing, TSSs, promoter windows, splice sites, non-splice sampling, TATA scan.

Coordinates are converted to 0-based half-open on reading. Windows are given
in transcript orientation: callers extract them with ``oriented=True`` so that
minus-strand windows are reverse-complemented.

Splice-site windows (width ``w``, ``h = w // 2``) put the exon-intron boundary
between indices ``h - 1`` and ``h`` of the oriented sequence: a donor window
has the intron's ``GT`` at ``[h, h + 2)``, an acceptor window the intron's
``AG`` at ``[h - 2, h)``.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from dataclasses import dataclass

import numpy as np

from dnabert.data.intervals import GenomeSequence, Intervals, check_chromosome_ends
from dnabert.sequence import one_hot, upper
from dnabert.io import InputError, PathLike, bed_lines, open_text

log = logging.getLogger(__name__)

_ATTRIBUTE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')
TATA_MATRIX = "MA0108.2"  # JASPAR TBP


@dataclass
class Transcript:
    """One transcript: 0-based half-open span and exons (sorted, shape ``(k, 2)``)."""

    transcript_id: str
    gene_id: str
    gene_name: str
    chrom: str
    strand: str
    exons: np.ndarray
    exon_lines: np.ndarray | None = None  # the GTF line of each exon

    @property
    def start(self) -> int:
        return int(self.exons[0, 0])

    @property
    def end(self) -> int:
        return int(self.exons[-1, 1])

    @property
    def tss(self) -> int:
        return self.start if self.strand == "+" else self.end - 1


def parse_attributes(text: str, path: PathLike, line: int) -> dict[str, str]:
    """GTF column 9: ``key "value"; key value; ...``."""
    attrs: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _ATTRIBUTE.match(text, pos)
        if not match:
            raise InputError(path, f"cannot parse attributes at {text[pos:pos + 30]!r}", line=line, field="attribute")
        attrs.setdefault(match.group(1), match.group(2) if match.group(2) is not None else match.group(3))
        pos = match.end()
    return attrs


def read_gtf_transcripts(path: PathLike) -> list[Transcript]:
    """Transcripts with their exons from a (gzipped) GTF; transcripts without exons are skipped."""
    exons: dict[str, list[tuple[int, int]]] = {}
    info: dict[str, tuple[str, str, str, str, int]] = {}
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 9:
                raise InputError(path, f"expected 9 tab-separated GTF columns, got {len(fields)}", line=line_no)
            feature = fields[2]
            if feature not in ("exon", "transcript"):
                continue
            try:
                start, end = int(fields[3]), int(fields[4])
            except ValueError:
                field = "start" if not fields[3].isdigit() else "end"
                raise InputError(path, "not an integer", line=line_no, field=field) from None
            if start < 1 or end < start:
                raise InputError(path, f"bad interval {start}-{end} (1-based, inclusive)", line=line_no, field="end")
            strand = fields[6]
            if strand not in ("+", "-"):
                raise InputError(path, f"{feature} strand must be + or -, got {strand!r}", line=line_no, field="strand")
            attrs = parse_attributes(fields[8], path, line_no)
            tid = attrs.get("transcript_id")
            if not tid:
                raise InputError(path, f"{feature} without transcript_id", line=line_no, field="attribute")
            gene_id = attrs.get("gene_id", "")
            key = (fields[0], strand, gene_id, attrs.get("gene_name", gene_id))
            if tid in info and info[tid][:2] != key[:2]:
                raise InputError(path, f"transcript {tid} is on two chromosomes or strands", line=line_no,
                                 field="transcript_id")
            info.setdefault(tid, (*key, line_no))
            if feature == "exon":
                exons.setdefault(tid, []).append((start - 1, end, line_no))
    transcripts = []
    for tid, (chrom, strand, gene_id, gene_name, _) in info.items():
        if tid not in exons:
            continue
        array = np.array(sorted(exons[tid]), dtype=np.int64)
        if (array[1:, 0] < array[:-1, 1]).any():
            raise InputError(path, f"transcript {tid} has overlapping exons", line=info[tid][4], field="exon")
        transcripts.append(Transcript(tid, gene_id, gene_name, chrom, strand, array[:, :2], array[:, 2]))
    if not transcripts:
        raise InputError(path, "no transcripts with exons in the GTF")
    transcripts.sort(key=lambda t: (t.chrom, t.start, t.end, t.transcript_id))
    return transcripts


@dataclass
class Sites:
    """Point features on the genome: position (0-based), strand, name."""

    chrom: np.ndarray
    pos: np.ndarray
    strand: np.ndarray
    name: np.ndarray
    line: np.ndarray | None = None  # the source file's line of each site, where known

    def __len__(self) -> int:
        return len(self.chrom)

    def take(self, index: np.ndarray) -> Sites:
        line = None if self.line is None else self.line[index]
        return Sites(self.chrom[index], self.pos[index], self.strand[index], self.name[index], line)


def _sites(chrom, pos, strand, name, line=None) -> Sites:
    return Sites(np.array(chrom, dtype=object), np.array(pos, dtype=np.int64), np.array(strand, dtype="<U1"),
                 np.array(name, dtype=object), None if line is None else np.array(line, dtype=np.int64))


def transcripts_on_genome(transcripts: list[Transcript], sizes: dict[str, int], path: PathLike) -> list[Transcript]:
    """The transcripts on chromosomes of the genome; exons past a chromosome end are warned about.

    When every transcript ends past its chromosome the genome is probably another
    assembly: :func:`~dnabert.data.intervals.check_chromosome_ends` raises, naming the line.
    """
    kept = [t for t in transcripts if t.chrom in sizes]
    if len(kept) < len(transcripts):
        absent = sorted({t.chrom for t in transcripts} - set(sizes))
        log.warning("%s: %d of %d transcripts are on %d chromosomes absent from the genome, dropped: %s", path,
                    len(transcripts) - len(kept), len(transcripts), len(absent), ", ".join(absent[:10]))
    if not kept:
        raise InputError(path, "no transcript is on a chromosome of the genome "
                               f"(genome has {', '.join(list(sizes)[:5])}{' ...' if len(sizes) > 5 else ''})")
    spans = Intervals(np.array([t.chrom for t in kept], dtype=object), np.array([t.start for t in kept]),
                      np.array([t.end for t in kept]))
    lines = np.array([t.exon_lines[-1] if t.exon_lines is not None else 0 for t in kept], dtype=np.int64)
    check_chromosome_ends(spans, sizes, path, "transcripts (their last exon)", lines)
    return kept


def sites_on_genome(sites: Sites, sizes: dict[str, int], path: PathLike, what: str) -> Sites:
    """The sites on chromosomes of the genome; positions past a chromosome end are warned about (all: an error)."""
    on = np.array([c in sizes for c in sites.chrom], dtype=bool)
    if not on.all():
        log.warning("%s: %d %s on chromosomes absent from the genome, dropped", path, int((~on).sum()), what)
    sites = sites.take(on)
    if len(sites) == 0:
        raise InputError(path, f"no {what[:-1] if what.endswith('s') else what} is on a chromosome of the genome")
    check_chromosome_ends(Intervals(sites.chrom, sites.pos, sites.pos + 1), sizes, path, what, sites.line)
    return sites


def unique_sites(sites: Sites) -> Sites:
    """Sites with the same chromosome, position and strand kept once (first name)."""
    keys = np.array([f"{c}\t{p}\t{s}" for c, p, s in zip(sites.chrom, sites.pos.tolist(), sites.strand)])
    _, first = np.unique(keys, return_index=True)
    return sites.take(np.sort(first))


def tss_from_gtf(path: PathLike) -> Sites:
    """One TSS per distinct (chrom, position, strand) of the GTF's transcripts."""
    ts = read_gtf_transcripts(path)
    names = [f"{t.transcript_id}|{t.gene_name}" if t.gene_name else t.transcript_id for t in ts]
    lines = [(t.exon_lines[0] if t.strand == "+" else t.exon_lines[-1]) if t.exon_lines is not None else 0 for t in ts]
    return unique_sites(_sites([t.chrom for t in ts], [t.tss for t in ts], [t.strand for t in ts], names, lines))


def tss_from_bed(path: PathLike) -> Sites:
    """TSSs from an EPDnew-style BED6+ (tab- or, as EPDnew ships it, space-separated).

    The TSS is the 5' end (on the strand) of the thick part where thickStart/thickEnd
    mark a part of the interval (EPDnew: thin = 49 bp upstream, thick = TSS to +10),
    else the 5' end of the interval.
    """
    chrom, pos, strand, name, lines = [], [], [], [], []
    for line_no, line in bed_lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 6:
            raise InputError(path, f"a TSS BED needs 6 columns (with strand), got {len(fields)}", line=line_no)
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise InputError(path, "not an integer", line=line_no, field="start/end") from None
        if start < 0 or end <= start:
            raise InputError(path, f"bad interval {start}-{end}", line=line_no, field="end")
        if fields[5] not in ("+", "-"):
            raise InputError(path, f"strand must be + or -, got {fields[5]!r}", line=line_no, field="strand")
        tss = start if fields[5] == "+" else end - 1
        if len(fields) >= 8 and fields[6].isdigit() and fields[7].isdigit():
            thick_start, thick_end = int(fields[6]), int(fields[7])
            if start <= thick_start < thick_end <= end and (thick_start, thick_end) != (start, end):
                tss = thick_start if fields[5] == "+" else thick_end - 1
        chrom.append(fields[0])
        pos.append(tss)
        strand.append(fields[5])
        name.append(fields[3] or f"{fields[0]}:{tss}")
        lines.append(line_no)
    if not chrom:
        raise InputError(path, "no TSSs: the file has no data lines")
    return unique_sites(_sites(chrom, pos, strand, name, lines))


def promoter_windows(tss: Sites, upstream: int, downstream: int) -> Intervals:
    """Windows from -``upstream`` to +``downstream`` (inclusive, TSS = 0) in transcript orientation."""
    plus = tss.strand == "+"
    start = np.where(plus, tss.pos - upstream, tss.pos - downstream)
    return Intervals(tss.chrom, start, start + upstream + downstream + 1, tss.strand, tss.name)


# --------------------------------------------------------------------------- splice sites

DONOR, ACCEPTOR = "donor", "acceptor"


def splice_sites(transcripts: list[Transcript]) -> tuple[Sites, Sites]:
    """Donor and acceptor boundaries of multi-exon transcripts (each distinct site once).

    The position is the genomic boundary ``p`` between exon and intron: the
    intron is ``[a, b)``; on '+' the donor is at ``a`` and the acceptor at ``b``,
    on '-' the donor is at ``b`` and the acceptor at ``a``.
    """
    donors: list[tuple] = []
    acceptors: list[tuple] = []
    for t in transcripts:
        if len(t.exons) < 2:
            continue
        a, b = t.exons[:-1, 1], t.exons[1:, 0]
        d, acc = (a, b) if t.strand == "+" else (b, a)
        donors += [(t.chrom, int(p), t.strand, t.transcript_id) for p in d]
        acceptors += [(t.chrom, int(p), t.strand, t.transcript_id) for p in acc]
    return (unique_sites(_sites(*zip(*donors))) if donors else _sites([], [], [], []),
            unique_sites(_sites(*zip(*acceptors))) if acceptors else _sites([], [], [], []))


def boundary_windows(sites: Sites, width: int) -> Intervals:
    """Windows whose oriented sequence has the boundary between indices ``width//2 - 1`` and ``width//2``."""
    h = width // 2
    start = np.where(sites.strand == "+", sites.pos - h, sites.pos - width + h)
    return Intervals(sites.chrom, start, start + width, sites.strand, sites.name)


def gene_spans(transcripts: list[Transcript]) -> Intervals:
    """One span per gene and strand (union of its transcripts' extents)."""
    spans: dict[tuple[str, str, str], list[int]] = {}
    for t in transcripts:
        key = (t.chrom, t.strand, t.gene_id or t.transcript_id)
        span = spans.setdefault(key, [t.start, t.end])
        span[0], span[1] = min(span[0], t.start), max(span[1], t.end)
    keys = sorted(spans, key=lambda k: (k[0], spans[k][0]))
    return Intervals(
        np.array([k[0] for k in keys], dtype=object), np.array([spans[k][0] for k in keys]),
        np.array([spans[k][1] for k in keys]), np.array([k[1] for k in keys]),
        np.array([k[2] for k in keys], dtype=object),
    )


# Oriented dinucleotide at the centre: (genomic offset from p, genomic letters) per strand.
_DECOY = {
    "GT": {"+": (0, b"GT"), "-": (-2, b"AC")},  # donor-like: GT starts the "intron"
    "AG": {"+": (-2, b"AG"), "-": (0, b"CT")},  # acceptor-like: AG ends the "intron"
}


def sample_gene_positions(
    spans: Intervals, count: int, rng: np.random.Generator, genome: GenomeSequence | None = None,
    decoy: str | None = None, max_rounds: int = 50,
) -> Sites:
    """``count`` distinct random positions inside gene spans (on the gene's strand).

    With ``decoy`` ('GT' or 'AG') only positions whose oriented centre carries that
    dinucleotide (as a donor or acceptor would) are returned; found by rejection sampling.
    """
    lengths = spans.length.astype(float)
    if count == 0 or len(spans) == 0 or lengths.sum() == 0:
        return _sites([], [], [], [])
    weights = lengths / lengths.sum()
    found: dict[tuple[str, int, str], str] = {}
    batch = max(64, count * (24 if decoy else 2))
    for _ in range(max_rounds):
        k = rng.choice(len(spans), size=batch, p=weights)
        pos = spans.start[k] + (rng.random(batch) * lengths[k]).astype(np.int64)
        chrom, strand, name = spans.chrom[k], spans.strand[k], spans.name[k]
        keep = np.ones(batch, dtype=bool)
        if decoy is not None:
            assert genome is not None
            keep[:] = False
            for ch in np.unique(chrom.astype(str)):
                seq = upper(genome.chromosome(ch))
                for st in ("+", "-"):
                    rows = np.flatnonzero((chrom == ch) & (strand == st))
                    offset, letters = _DECOY[decoy][st]
                    q = pos[rows] + offset
                    ok = (q >= 0) & (q + 2 <= len(seq))
                    rows, q = rows[ok], q[ok]
                    keep[rows] = (seq[q] == letters[0]) & (seq[q + 1] == letters[1])
        for c, p, s, n in zip(chrom[keep], pos[keep].tolist(), strand[keep], name[keep]):
            found.setdefault((c, p, s), n)
            if len(found) >= count:
                break
        if len(found) >= count:
            break
    items = sorted(found.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2]))
    return _sites([k[0] for k, _ in items], [k[1] for k, _ in items], [k[2] for k, _ in items],
                  [v for _, v in items])


def distance_to_nearest(sites: Sites, reference: Sites) -> np.ndarray:
    """Distance from each site to the nearest reference site on the same chromosome (inf if none)."""
    out = np.full(len(sites), np.inf)
    for ch in np.unique(sites.chrom.astype(str)):
        rows = np.flatnonzero(sites.chrom == ch)
        ref = np.sort(reference.pos[reference.chrom == ch])
        if len(ref) == 0:
            continue
        p = sites.pos[rows]
        j = np.searchsorted(ref, p)
        left = np.abs(p - ref[np.clip(j - 1, 0, len(ref) - 1)])
        right = np.abs(ref[np.clip(j, 0, len(ref) - 1)] - p)
        out[rows] = np.minimum(left, right)
    return out


# --------------------------------------------------------------------------- TATA box scan


@functools.lru_cache(maxsize=4)
def tbp_matrix(release: str = "JASPAR2024", matrix_id: str = TATA_MATRIX) -> np.ndarray:
    """The JASPAR TBP matrix as base probabilities, shape ``(4, length)`` (rows A, C, G, T)."""
    import pyjaspar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motif = pyjaspar.jaspardb(release=release).fetch_motif_by_id(matrix_id)
    if motif is None:
        raise InputError(None, f"JASPAR matrix {matrix_id} not in {release}", field="tata_matrix")
    counts = np.array([motif.counts[base] for base in "ACGT"], dtype=float)
    return counts / counts.sum(axis=0, keepdims=True)




def tata_scan(codes: np.ndarray, pvalue: float, release: str = "JASPAR2024") -> np.ndarray:
    """True for each oriented sequence with a TBP (TATA box) FIMO hit on its own strand at ``pvalue``."""
    from memelite import fimo

    has = np.zeros(codes.shape[0], dtype=bool)
    if codes.shape[0] == 0:
        return has
    matrix = tbp_matrix(release)
    if codes.shape[1] < matrix.shape[1]:
        raise InputError(None, f"TATA scan region ({codes.shape[1]} bp) is shorter than the TBP matrix "
                               f"({matrix.shape[1]} bp)", field="tata_region")
    hits = fimo({"TBP": matrix}, one_hot(codes), threshold=pvalue, reverse_complement=False)[0]
    if len(hits):
        has[np.unique(hits["sequence_name"].to_numpy().astype(np.int64))] = True
    return has
