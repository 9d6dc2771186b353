"""Seeded simulation of the offline demo genome, with real formats and ground truth.

The demo genome stands in for a downloaded assembly, so every downstream rule
treats its files exactly like real ones. The same settings always give
byte-identical files.

Sequence model (all per-base work is vectorised with numpy):

1. **Layout.** Each chromosome gets runs of ``N`` at both ends (like telomeres)
   and ``n_gaps`` internal ``N`` gaps. ``blacklist_regions`` satellite arrays,
   the genes (promoter + gene body) and the ChIP-seq peaks are then placed so
   that none overlaps an ``N`` gap or another planted feature: peaks may fall in
   introns but never over an exon, a splice site or a promoter.
2. **Repeats.** A handful of random "repeat family" consensus sequences
   (SINE-like ~300 bp, LINE-like 6 kb copied 5'-truncated, LTR/DNA-like
   0.5-1.5 kb) and simple repeats such as ``(CA)n`` are copied, on either
   strand, into random places with 10-15 % substitutions (2-6 % for simple
   repeats), until ``repeat_fraction`` of the non-N bases is covered (the
   blacklist regions, tandem arrays of a 171 bp alpha-satellite-like monomer,
   count towards it). All repeats are soft-masked (lower case); exons,
   promoters and peak cores are kept repeat-free.
3. **Background.** The remaining bases are drawn independently, with GC varying
   in isochore-like blocks of 50-150 kb (s.d. 0.03, length-weighted mean on
   target) and promoters (-500..+100 around the TSS) 10 points GC-richer. The
   target is a *starting* GC ``g0`` chosen so that the later CpG decay lands on
   ``gc``: converting a fraction ``f`` of CpGs removes ``f*g0**2/4`` GC per base
   and leaves an observed/expected CpG ratio ``(1-f)*g0**2/gc**2``, hence
   ``g0 = 2 - sqrt(4 - 4*gc + cpg_ratio*gc**2)`` and ``f = 4*(g0-gc)/g0**2``.
   The background is shifted so that the whole genome, repeats and GC-rich
   promoters included, starts at ``g0``.
4. **Planted features** (upper case, recorded in ``truth.tsv``): splice
   consensus at every exon boundary (donor ``AG|GTRAGT``; acceptor 12
   pyrimidines, ``N``, ``YAG|G``) on the transcript's strand; for
   ``tata_fraction`` of genes a TATA box sampled from JASPAR TBP (MA0108.2),
   the 15 bp matrix starting 30-34 bp upstream of the TSS (so TATAAA lies at
   about -33..-24); and in ``motif_fraction`` of each factor's peaks one site
   sampled from its JASPAR matrix, on a random strand, centred within 3 bp of
   the summit. Motif peaks get higher signal on average.
5. **CpG deamination**, as in real genomes: CpGs outside planted features are
   turned into TpG or CpA (half each) at random, as many as needed for the
   observed/expected CpG ratio of the whole genome to equal ``cpg_ratio``.

Outputs (see :func:`simulate`): ``genome.fa.gz`` (plain gzip, 70 columns),
``genes.gtf.gz``, ``peaks/{TF}.narrowPeak.gz``, ``blacklist.bed.gz`` and
``truth.tsv``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)

# Base codes used throughout: 0..3 = A, C, G, T; 4 = N.
A, C, G, T, N = 0, 1, 2, 3, 4
_UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_LOWER = np.frombuffer(b"acgtn", dtype=np.uint8)
_COMPLEMENT = np.array([T, G, C, A, N], dtype=np.uint8)
_ENCODE = np.full(256, N, dtype=np.uint8)
for _code, _letter in enumerate("ACGT"):
    _ENCODE[ord(_letter)] = _ENCODE[ord(_letter.lower())] = _code

FASTA_WIDTH = 70
TATA_MOTIF = "MA0108.2"  # JASPAR TBP
GTF_SOURCE = "dnabert_sim"
TRUTH_COLUMNS = ("feature", "chrom", "start", "end", "strand", "motif_id", "motif_name", "sequence", "name")

# Layout constants (bp).
PROMOTER = (-500, 100)  # GC-rich, repeat-free, peak-free window around the TSS
GENE_PAD = (1000, 500)  # upstream / downstream room kept free of other genes
EXON_PAD = 25  # exon flanks kept free of peaks and repeats (splice sites)
PEAK_CORE = 50  # summit +- this is kept repeat-free
PEAK_WIDTH = (200, 600)
SUMMIT_JITTER = 3  # motif centre lies within this many bp of the summit
TATA_OFFSET = -32  # TATA matrix start relative to the TSS (core TATAAA at -31..-26)
ISOCHORE = (50_000, 150_000)
ISOCHORE_SD = 0.03
PROMOTER_GC_BOOST = 0.10
MIN_CHROM = 50_000

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MOTIF_RE = re.compile(r"^[A-Z]{2}[0-9]{4}(\.[0-9]+)?$")
_FIELD = "genome.simulate"


def _fail(field_name: str, message: str) -> InputError:
    return InputError(None, message, field=f"{_FIELD}.{field_name}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def _check_fraction(name: str, value: Any, lo: float = 0.0, hi: float = 1.0) -> None:
    if not _is_number(value) or not lo <= float(value) <= hi:
        raise _fail(name, f"must be a number in [{lo}, {hi}], got {value!r}")


def _check_count(name: str, value: Any) -> None:
    if not _is_int(value) or value < 0:
        raise _fail(name, f"must be a non-negative integer, got {value!r}")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TFSpec:
    """One simulated ChIP-seq experiment: factor name, JASPAR matrix id, peaks."""

    name: str
    motif: str
    peaks: int = 500
    motif_fraction: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise _fail(
                "tfs.name",
                f"factor name must match {_NAME_RE.pattern} (used in file names), got {self.name!r}",
            )
        if not isinstance(self.motif, str) or not _MOTIF_RE.match(self.motif):
            raise _fail(
                "tfs.motif", f"{self.name}: JASPAR matrix id like 'MA0139.2' expected, got {self.motif!r}"
            )
        _check_count("tfs.peaks", self.peaks)
        _check_fraction("tfs.motif_fraction", self.motif_fraction)


def _default_chromosomes() -> dict[str, int]:
    return {"chr1": 1_200_000, "chr2": 1_000_000, "chr3": 800_000, "chr4": 600_000}


def _default_tfs() -> tuple[TFSpec, ...]:
    return (TFSpec("CTCF", "MA0139.2", 800, 0.8), TFSpec("REST", "MA0138.3", 600, 0.7))


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that determines the simulated genome; same settings, same bytes."""

    seed: int = 42
    chromosomes: dict[str, int] = field(default_factory=_default_chromosomes)
    gc: float = 0.41
    cpg_ratio: float = 0.25
    repeat_fraction: float = 0.35
    n_gaps: int = 2
    genes: int = 80
    tata_fraction: float = 0.3
    tfs: tuple[TFSpec, ...] = field(default_factory=_default_tfs)
    jaspar_release: str = "JASPAR2024"
    blacklist_regions: int = 3

    def __post_init__(self) -> None:
        _check_count("seed", self.seed)
        if not isinstance(self.chromosomes, Mapping) or not self.chromosomes:
            raise _fail("chromosomes", "must be a non-empty mapping of name to length")
        for name, length in self.chromosomes.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise _fail("chromosomes", f"bad chromosome name {name!r}")
            if not _is_int(length) or length < MIN_CHROM:
                raise _fail(
                    f"chromosomes.{name}", f"length must be an integer >= {MIN_CHROM}, got {length!r}"
                )
        object.__setattr__(self, "chromosomes", {str(k): int(v) for k, v in self.chromosomes.items()})
        _check_fraction("gc", self.gc, 0.2, 0.8)
        _check_fraction("cpg_ratio", self.cpg_ratio)
        _check_fraction("repeat_fraction", self.repeat_fraction, 0.0, 0.8)
        _check_fraction("tata_fraction", self.tata_fraction)
        for name in ("n_gaps", "genes", "blacklist_regions"):
            _check_count(name, getattr(self, name))
        tfs = tuple(self.tfs)
        if not all(isinstance(tf, TFSpec) for tf in tfs):
            raise _fail("tfs", "must be TFSpec objects (use SimulationSettings.from_config for mappings)")
        names = [tf.name for tf in tfs]
        if len(set(names)) != len(names):
            raise _fail("tfs", f"factor names must be unique, got {names}")
        object.__setattr__(self, "tfs", tfs)
        if not isinstance(self.jaspar_release, str):
            raise _fail("jaspar_release", f"must be a string like 'JASPAR2024', got {self.jaspar_release!r}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, source: PathLike | None = None) -> SimulationSettings:
        """Build settings from the ``genome.simulate`` config mapping; missing keys take defaults.

        Unknown keys, bad values and JASPAR ids missing from the release raise
        :class:`InputError` naming the field (and ``source``, the config file, if given).
        """
        try:
            settings = cls._from_mapping({} if cfg is None else cfg)
            load_motifs(settings)
        except InputError as err:
            if source is None:
                raise
            raise InputError(source, err.reason, field=err.field) from err
        return settings

    @classmethod
    def _from_mapping(cls, cfg: Mapping[str, Any]) -> SimulationSettings:
        if not isinstance(cfg, Mapping):
            raise InputError(None, f"must be a mapping, got {type(cfg).__name__}", field=_FIELD)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise _fail(str(unknown[0]), f"unknown key; expected one of {sorted(known)}")
        kwargs = dict(cfg)
        if "tfs" in kwargs:
            kwargs["tfs"] = tuple(_tf_from_mapping(i, item) for i, item in enumerate(kwargs["tfs"] or ()))
        if "chromosomes" in kwargs and not isinstance(kwargs["chromosomes"], Mapping):
            raise _fail("chromosomes", "must be a mapping of name to length")
        return cls(**kwargs)


def _tf_from_mapping(index: int, item: Any) -> TFSpec:
    where = f"tfs[{index}]"
    if isinstance(item, TFSpec):
        return item
    if not isinstance(item, Mapping):
        raise _fail(where, f"must be a mapping with name, motif, peaks, motif_fraction; got {item!r}")
    known = {f.name for f in dataclasses.fields(TFSpec)}
    unknown = sorted(set(item) - known)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown key; expected one of {sorted(known)}")
    missing = [k for k in ("name", "motif") if k not in item]
    if missing:
        raise _fail(f"{where}.{missing[0]}", "required key missing")
    try:
        return TFSpec(**item)
    except InputError as err:
        raise _fail(f"{where}.{(err.field or '').rsplit('.', 1)[-1]}", err.reason) from err


# --------------------------------------------------------------------------- motifs


@dataclass(frozen=True, eq=False)
class Motif:
    """A JASPAR matrix as per-position base probabilities (rows: positions; columns: A, C, G, T)."""

    matrix_id: str
    name: str
    probs: np.ndarray

    @property
    def length(self) -> int:
        return int(self.probs.shape[0])


@functools.lru_cache(maxsize=None)
def _jaspar(release: str) -> Any:
    import pyjaspar

    releases = getattr(pyjaspar, "jaspar_releases", {})
    if release not in releases:
        raise _fail(
            "jaspar_release", f"unknown JASPAR release {release!r}; pyjaspar bundles {sorted(releases)}"
        )
    return pyjaspar.jaspardb(release=release)


@functools.lru_cache(maxsize=None)
def fetch_motif(matrix_id: str, release: str, field_name: str = "tfs.motif") -> Motif:
    """Fetch a matrix from the offline JASPAR release bundled with pyjaspar."""
    db = _jaspar(release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motif = db.fetch_motif_by_id(matrix_id)
    if motif is None:
        raise _fail(field_name, f"JASPAR matrix {matrix_id!r} does not exist in {release}")
    counts = np.array([motif.counts[base] for base in "ACGT"], dtype=float).T
    probs = counts / counts.sum(axis=1, keepdims=True)
    probs.setflags(write=False)
    return Motif(matrix_id=str(motif.matrix_id), name=str(motif.name), probs=probs)


def load_motifs(settings: SimulationSettings) -> dict[str, Motif]:
    """Matrices keyed by JASPAR id: every factor's motif plus the TBP matrix for TATA boxes."""
    motifs = {TATA_MOTIF: fetch_motif(TATA_MOTIF, settings.jaspar_release, "jaspar_release")}
    for i, tf in enumerate(settings.tfs):
        motifs[tf.motif] = fetch_motif(tf.motif, settings.jaspar_release, f"tfs[{i}].motif")
    return motifs


# --------------------------------------------------------------------------- small helpers


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent, reproducible random stream per simulation stage."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


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


def sample_site(rng: np.random.Generator, probs: np.ndarray, count: int = 1) -> np.ndarray:
    """``count`` sites drawn column by column from a probability matrix, shape (count, length)."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random((count, probs.shape[0], 1))
    return (u > cum[None, :, :]).sum(axis=2).astype(np.uint8)


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    return _COMPLEMENT[codes[::-1]]


def encode(text: str | bytes) -> np.ndarray:
    """ACGT text (any case) to base codes; other letters become N."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    return _ENCODE[np.frombuffer(raw, dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    return _UPPER[codes].tobytes().decode("ascii")


@dataclass(frozen=True)
class Composition:
    """Genome-wide composition of a sequence (case-insensitive, N excluded)."""

    bases: int
    gc: float
    cpg_ratio: float
    masked_fraction: float
    n_fraction: float


def composition(sequence: bytes | np.ndarray) -> Composition:
    """GC, observed/expected CpG, soft-masked fraction of non-N bases, and N fraction."""
    raw = np.frombuffer(sequence, dtype=np.uint8) if isinstance(sequence, (bytes, bytearray)) else sequence
    codes = _ENCODE[raw]
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


# --------------------------------------------------------------------------- layout


@dataclass
class _Gene:
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
class _Peak:
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
class _Site:
    feature: str
    start: int
    end: int
    strand: str
    motif_id: str
    motif_name: str
    codes: np.ndarray  # as planted on the + strand
    owner: Any  # _Peak or (gene, transcript index)


@dataclass
class _Genome:
    names: list[str]
    offsets: np.ndarray  # chromosome starts in the concatenated genome, plus the total
    gap: np.ndarray
    blacklist: list[tuple[int, int]] = field(default_factory=list)
    genes: list[_Gene] = field(default_factory=list)
    peaks: list[_Peak] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(self.offsets[-1])

    def locate(self, pos: int) -> tuple[str, int]:
        """Chromosome name and 0-based local coordinate of a global position."""
        i = int(np.searchsorted(self.offsets, pos, side="right")) - 1
        return self.names[i], int(pos - self.offsets[i])


def _place(
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


def _layout_gaps(settings: SimulationSettings, rng: np.random.Generator) -> _Genome:
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
            start = _place(rng, gap, size, pad=size, lo=off, hi=off + length)
            if start is None:
                raise _fail("n_gaps", f"cannot fit {settings.n_gaps} gaps into a {length} bp chromosome")
            gap[start : start + size] = True
    return _Genome(names=names, offsets=offsets, gap=gap)


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


def _layout_features(
    genome: _Genome, settings: SimulationSettings, motifs: dict[str, Motif], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Place blacklist satellites, genes and peaks; return (repeat-free mask, satellite mask)."""
    total = genome.total
    blocked_genes = genome.gap.copy()
    blocked_peaks = genome.gap.copy()
    protected = np.zeros(total, dtype=bool)
    satellite = np.zeros(total, dtype=bool)

    for _ in range(settings.blacklist_regions):
        size = int(rng.integers(3_000, 8_001))
        start = _place(rng, blocked_genes, size, pad=2_000)
        if start is None:
            raise _fail("blacklist_regions", f"cannot fit {settings.blacklist_regions} blacklist regions")
        genome.blacklist.append((start, start + size))
        for mask in (blocked_genes, blocked_peaks, satellite):
            mask[start : start + size] = True

    for _ in range(settings.genes):
        exons, transcripts = _make_gene(rng)
        strand = "+" if rng.random() < 0.5 else "-"
        span = exons[-1][1]
        up, down = GENE_PAD if strand == "+" else GENE_PAD[::-1]
        start = _place(rng, blocked_genes, up + span + down)
        if start is None:
            raise _fail(
                "genes", f"cannot fit {settings.genes} genes into the genome; use fewer or longer chromosomes"
            )
        blocked_genes[start : start + up + span + down] = True
        gene = _Gene(
            strand=strand, exons=[(s + start + up, e + start + up) for s, e in exons], transcripts=transcripts
        )
        for s, e in gene.exons:
            blocked_peaks[s - EXON_PAD : e + EXON_PAD] = True
            protected[s - EXON_PAD : e + EXON_PAD] = True
        lo, hi = gene.window(PROMOTER)
        blocked_peaks[lo:hi] = True
        protected[lo:hi] = True
        genome.genes.append(gene)
    genome.genes.sort(key=lambda g: (g.start, g.end))
    for i, gene in enumerate(genome.genes):
        gene.gene_id = f"SIMG{i + 1:05d}"
    n_tata = round(settings.tata_fraction * len(genome.genes))
    for i in rng.permutation(len(genome.genes))[:n_tata]:
        genome.genes[int(i)].tata = True

    for tf in settings.tfs:
        motif_len = motifs[tf.motif].length
        with_motif = np.zeros(tf.peaks, dtype=bool)
        with_motif[rng.permutation(tf.peaks)[: round(tf.motif_fraction * tf.peaks)]] = True
        for has_motif in with_motif.tolist():
            width = int(rng.integers(PEAK_WIDTH[0], PEAK_WIDTH[1] + 1))
            start = _place(rng, blocked_peaks, width, pad=10)
            if start is None:
                raise _fail(
                    "tfs", f"cannot fit {tf.peaks} {tf.name} peaks; use fewer peaks or a larger genome"
                )
            edge = max(PEAK_CORE, motif_len + SUMMIT_JITTER)
            offset = int(np.clip(round(width / 2 + rng.normal(0, width / 10)), edge, width - edge))
            peak = _Peak(
                tf=tf.name, start=start, end=start + width, summit=start + offset, has_motif=has_motif
            )
            blocked_peaks[start : start + width] = True
            protected[peak.summit - PEAK_CORE : peak.summit + PEAK_CORE] = True
            genome.peaks.append(peak)
    return protected | satellite, satellite


# --------------------------------------------------------------------------- sequence


def _background(
    genome: _Genome,
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


# Share of repeat-covered bases per kind, divergence range, and mean copy length (for counts).
_KIND_SHARE = {"sine": 0.30, "line": 0.45, "ltr": 0.20, "simple": 0.05}
_KIND_DIVERGENCE = {"sine": (0.10, 0.15), "line": (0.10, 0.15), "ltr": (0.10, 0.15), "simple": (0.02, 0.06)}


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
    genome: _Genome,
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
    codes = np.where(rev, _COMPLEMENT[codes], codes)
    codes = _mutate(rng, codes, np.repeat(divergence, length), np.repeat(fam_gc, length))
    target = np.repeat(pos, length) + local
    ok = writable[target]
    seq[target[ok]] = codes[ok]
    masked[target[ok]] = True


def _add_repeats(
    seq: np.ndarray,
    genome: _Genome,
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
    mean_len = {"sine": 250, "line": 900, "ltr": 650, "simple": 110}
    weight = np.array([_KIND_SHARE[k] / mean_len[k] / (kinds == k).sum() for k in kinds])
    weight /= weight.sum()
    mean_copy = float(sum(weight[kinds == k].sum() * mean_len[k] for k in mean_len))
    for _ in range(200):
        covered = int(masked.sum())
        deficit = target - covered
        if deficit <= max(200.0, 0.0005 * real):
            break
        count = max(1, int(deficit / mean_copy))
        _copy_repeats(rng, seq, genome, fams, rng.choice(len(fams), size=count, p=weight), writable, masked)
    return masked


def _add_satellites(
    seq: np.ndarray, genome: _Genome, g0: float, masked: np.ndarray, rng: np.random.Generator
) -> None:
    """Blacklist regions: tandem arrays of an alpha-satellite-like 171 bp monomer, 2-5 % diverged."""
    monomer = draw_bases(rng, g0 - 0.06, 171)
    for start, end in genome.blacklist:
        size = end - start
        tiled = np.tile(monomer, size // monomer.size + 1)[:size]
        rate = np.full(size, rng.uniform(0.02, 0.05))
        seq[start:end] = _mutate(rng, tiled, rate, np.full(size, g0 - 0.06))
        masked[start:end] = True


def _plant(seq: np.ndarray, planted: np.ndarray, site: _Site) -> None:
    seq[site.start : site.end] = site.codes
    planted[site.start : site.end] = True


def _splice_sites(genome: _Genome, rng: np.random.Generator) -> list[_Site]:
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


def _splice_site(rng: np.random.Generator, gene: _Gene, kind: str, boundary: int) -> _Site:
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
    return _Site(kind, start, start + length, gene.strand, ".", ".", codes, (gene, 0))


def _tata_sites(genome: _Genome, motif: Motif, rng: np.random.Generator) -> list[_Site]:
    sites = []
    for gene in genome.genes:
        if not gene.tata:
            continue
        site = sample_site(rng, motif.probs)[0]
        off = TATA_OFFSET + int(rng.integers(-2, 3))
        lo, hi = gene.window((off, off + motif.length))
        codes = site if gene.strand == "+" else reverse_complement(site)
        sites.append(_Site("tata_box", lo, hi, gene.strand, motif.matrix_id, motif.name, codes, (gene, 0)))
    return sites


def _motif_sites(
    genome: _Genome, settings: SimulationSettings, motifs: dict[str, Motif], rng: np.random.Generator
) -> list[_Site]:
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
        sites.append(
            _Site("tf_motif", start, start + motif.length, strand, motif.matrix_id, motif.name, codes, peak)
        )
    return sites


def _deaminate(
    seq: np.ndarray, gap: np.ndarray, planted: np.ndarray, cpg_ratio: float, rng: np.random.Generator
) -> int:
    """Turn unplanted CpGs into TpG/CpA until the genome-wide CpG o/e equals ``cpg_ratio``."""
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


def _peak_scores(genome: _Genome, rng: np.random.Generator) -> None:
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


# --------------------------------------------------------------------------- writers


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


def _write_fasta(path: Path, genome: _Genome, seq: np.ndarray, masked: np.ndarray) -> None:
    letters = np.where(masked, _LOWER[seq], _UPPER[seq])
    with atomic_write(path, "wb", gzip_level=6) as out:
        for i, name in enumerate(genome.names):
            out.write(f">{name}\n".encode("ascii"))
            out.write(_wrap(letters[genome.offsets[i] : genome.offsets[i + 1]]))


def _attributes(pairs: Sequence[tuple[str, str]]) -> str:
    return " ".join(f'{key} "{value}";' for key, value in pairs)


def _write_gtf(path: Path, genome: _Genome) -> None:
    rows = []
    for gene in genome.genes:
        chrom, start = genome.locate(gene.start)
        cidx = genome.names.index(chrom)
        end = start + gene.end - gene.start
        base = [("gene_id", gene.gene_id)]
        named = [("gene_name", gene.gene_id.replace("SIMG", "SIM")), ("gene_biotype", "protein_coding")]
        rows.append((cidx, start, 0, "", chrom, "gene", start, end, gene.strand, _attributes(base + named)))
        for k, exon_idx in enumerate(gene.transcripts):
            tid = gene.transcript_id(k)
            tx = base + [("transcript_id", tid)] + named + [("transcript_biotype", "protein_coding")]
            t_start = gene.exons[exon_idx[0]][0] - gene.start + start
            t_end = gene.exons[exon_idx[-1]][1] - gene.start + start
            rows.append(
                (cidx, t_start, 1, tid, chrom, "transcript", t_start, t_end, gene.strand, _attributes(tx))
            )
            order = exon_idx if gene.strand == "+" else exon_idx[::-1]
            for number, i in enumerate(order, start=1):
                s = gene.exons[i][0] - gene.start + start
                e = gene.exons[i][1] - gene.start + start
                attrs = _attributes(tx + [("exon_number", str(number))])
                rows.append((cidx, s, 2, tid, chrom, "exon", s, e, gene.strand, attrs))
    rows.sort(key=lambda r: r[:4])
    with atomic_write(path, gzip_level=6) as out:
        for _, _, _, _, chrom, feature, s, e, strand, attrs in rows:
            out.write(f"{chrom}\t{GTF_SOURCE}\t{feature}\t{s + 1}\t{e}\t.\t{strand}\t.\t{attrs}\n")


def _write_peaks(out_dir: Path, genome: _Genome, settings: SimulationSettings) -> None:
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


def _write_blacklist(path: Path, genome: _Genome) -> None:
    with atomic_write(path, gzip_level=6) as out:
        for s, e in sorted(genome.blacklist):
            chrom, start = genome.locate(s)
            out.write(f"{chrom}\t{start}\t{start + e - s}\n")


def _write_truth(path: Path, genome: _Genome, sites: list[_Site]) -> None:
    rows = []
    for site in sites:
        chrom, start = genome.locate(site.start)
        if isinstance(site.owner, _Peak):
            name = site.owner.name
        else:
            gene, k = site.owner
            name = gene.transcript_id(k)
        rows.append(
            (genome.names.index(chrom), start, site.feature, chrom, site.end - site.start, site, name)
        )
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


# --------------------------------------------------------------------------- entry point


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
    genome = _layout_gaps(settings, _rng(settings.seed, "gaps"))
    protected, _ = _layout_features(genome, settings, motifs, _rng(settings.seed, "layout"))
    log.info(
        "layout: %d bp, %d genes, %d peaks, %d blacklist regions",
        genome.total,
        len(genome.genes),
        len(genome.peaks),
        len(genome.blacklist),
    )

    seq = np.zeros(genome.total, dtype=np.uint8)
    masked = _add_repeats(seq, genome, settings, protected, _rng(settings.seed, "repeats"))
    _background(genome, settings, seq, masked, _rng(settings.seed, "background"))

    feature_rng = _rng(settings.seed, "features")
    sites = (
        _splice_sites(genome, feature_rng)
        + _tata_sites(genome, motifs[TATA_MOTIF], feature_rng)
        + _motif_sites(genome, settings, motifs, feature_rng)
    )
    planted = np.zeros(genome.total, dtype=bool)
    for site in sites:
        _plant(seq, planted, site)
    converted = _deaminate(seq, genome.gap, planted, settings.cpg_ratio, _rng(settings.seed, "deamination"))
    seq[genome.gap] = N
    masked &= ~(planted | genome.gap)
    _peak_scores(genome, _rng(settings.seed, "scores"))

    _write_fasta(out / "genome.fa.gz", genome, seq, masked)
    _write_gtf(out / "genes.gtf.gz", genome)
    _write_peaks(out, genome, settings)
    _write_blacklist(out / "blacklist.bed.gz", genome)
    _write_truth(out / "truth.tsv", genome, sites)

    letters = np.where(masked, _LOWER[seq], _UPPER[seq])
    stats = composition(letters)
    log.info(
        "genome: GC %.4f, CpG o/e %.3f (%d CpGs deaminated), soft-masked %.3f, N %.3f; %d planted sites",
        stats.gc,
        stats.cpg_ratio,
        converted,
        stats.masked_fraction,
        stats.n_fraction,
        len(sites),
    )
