"""SNVs of a VCF scored by a fine-tuned classifier in the task's windows, with REF checked against the genome.

:func:`read_vcf` parses and validates the VCF (one :class:`VcfVariant` per ALT
allele); :class:`ReferenceWindows` classifies each allele (``ok`` or why it is not
scored, see :data:`STATUSES`) and fetches its window from the indexed genome, placed
by a :class:`~dnabert.interpret.variants.windows.VariantWindows` (the task's width,
and for promoter and splice tasks the TSS- or splice-site-relative position and
strand; a ``-`` strand window is reverse-complemented and the alleles complemented);
:func:`score_vcf` scores reference and mutant windows in batches of
:data:`VCF_CHUNK`; :func:`score_vcf_file` does it for a model directory.
The zero-shot scores (:mod:`~dnabert.interpret.variants.zeroshot`) read VCFs the same way.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.interpret.variants.scores import (
    BASES,
    SEQUENCE_RE,
    Autocast,
    check_target,
    effect_columns,
    target_probs,
)
from dnabert.interpret.variants.tables import write_tsv
from dnabert.interpret.variants.windows import Placement, VariantWindows, centred
from dnabert.io import InputError, PathLike, is_gzipped
from dnabert.lm import kmer
from dnabert.lm.inference import load_for_inference
from dnabert.sequence import reverse_complement

log = logging.getLogger(__name__)

VCF_CHUNK = 2048  # variants scored per pass
STATUSES = ("ok", "not_snv", "ref_mismatch", "out_of_bounds", "unknown_chrom")
#: Where each allele was scored: how it was placed, the strand read, the 0-based half-open genome window.
PLACEMENT_COLUMNS = ("context", "strand", "window_start", "window_end")
VCF_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "status", *PLACEMENT_COLUMNS, "prob_ref", "prob_alt", "delta_prob",
               "log_odds_ratio")  # fmt: skip
ON_MISMATCH = ("flag", "error")

# ALT alleles that are valid VCF but not sequence: '*' (overlapping deletion), '.'
# (no ALT), symbolic <DEL>, breakends (t[p[, ]p]t, .t, t.).
_VCF_OTHER_ALT = re.compile(r"^(\*|\.|<[^<>]+>|[ACGTN]*[\[\]]\S*|\.[ACGTN]+|[ACGTN]+\.)$", re.IGNORECASE)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class VcfVariant:
    """One ALT allele of a VCF record (multi-allelic records give one per allele)."""

    line: int
    chrom: str
    pos: int  # 1-based, as in the VCF
    id: str
    ref: str
    alt: str

    @property
    def is_snv(self) -> bool:
        """A single-base substitution between two different bases of A/C/G/T."""
        return len(self.ref) == len(self.alt) == 1 and self.ref != self.alt and {self.ref, self.alt} <= set(BASES)


def read_vcf(path: PathLike) -> Iterator[VcfVariant]:
    """The variants of a plain or (b)gzipped VCF, one per ALT allele, validated as read.

    Needs at least the columns CHROM POS ID REF ALT (tab-separated; with a
    ``#CHROM`` header every line must have its number of columns). Errors name the
    file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "VCF file not found")
    n_columns: int | None = None
    opener = gzip.open if is_gzipped(path) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:  # VCF 4.3 allows UTF-8 in INFO
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if line.startswith("##") or not line.strip():
                continue
            if line.startswith("#"):
                n_columns = _header_columns(path, line, line_no)
                continue
            yield from _record_variants(path, line, line_no, n_columns)


def _header_columns(path: Path, line: str, line_no: int) -> int:
    """The number of columns of a ``#CHROM POS ID REF ALT ...`` header line."""
    header = line[1:].split("\t")
    if header[:5] != ["CHROM", "POS", "ID", "REF", "ALT"]:
        raise InputError(path, f"expected a header '#CHROM<TAB>POS<TAB>ID<TAB>REF<TAB>ALT...', got "
                         f"{line[:60]!r}", line=line_no)  # fmt: skip
    return len(header)


def _record_variants(path: Path, line: str, line_no: int, n_columns: int | None) -> Iterator[VcfVariant]:
    """The ALT alleles of one data line, its columns checked."""
    fields = line.split("\t")
    if n_columns is not None and len(fields) != n_columns:
        raise InputError(path, f"expected {n_columns} tab-separated columns (as the #CHROM header), got "
                         f"{len(fields)}", line=line_no)  # fmt: skip
    if len(fields) < 5:
        hint = " (columns must be separated by tabs)" if " " in line else ""
        raise InputError(path, f"expected at least 5 tab-separated columns (CHROM POS ID REF ALT), got "
                         f"{len(fields)}{hint}", line=line_no)  # fmt: skip
    chrom, pos_text, ident, ref, alts = (f.strip() for f in fields[:5])
    if not chrom:
        raise InputError(path, "empty chromosome name", line=line_no, field="CHROM")
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputError(path, f"POS must be an integer, got {pos_text!r}", line=line_no, field="POS") from None
    if pos < 1:
        raise InputError(path, f"POS is 1-based and must be at least 1, got {pos}", line=line_no, field="POS")
    if not SEQUENCE_RE.match(ref):
        raise InputError(path, f"REF must be bases A/C/G/T/N, got {ref!r}", line=line_no, field="REF")
    for alt in alts.split(","):
        if not (SEQUENCE_RE.match(alt) or _VCF_OTHER_ALT.match(alt)):
            raise InputError(path, f"invalid ALT allele {alt!r} (bases A/C/G/T/N, '*', '.', <ID> or a "
                             "breakend)", line=line_no, field="ALT")  # fmt: skip
        yield VcfVariant(line_no, chrom, pos, ident or ".", ref.upper(), alt.upper())


# --------------------------------------------------------------------------- genome windows


def open_genome(genome_fasta: PathLike) -> pysam.FastaFile:
    """An indexed genome FASTA (plain with ``.fai``, or bgzipped with ``.fai`` and ``.gzi``)."""
    genome_fasta = Path(genome_fasta)
    if not genome_fasta.is_file():
        raise InputError(genome_fasta, "genome FASTA not found")
    try:
        return pysam.FastaFile(str(genome_fasta))
    except (OSError, ValueError) as err:
        raise InputError(genome_fasta, f"cannot open the indexed genome FASTA (bgzip it and index with "
                         f"samtools faidx / pysam.faidx): {err}") from None  # fmt: skip


def max_window(model: nn.Module, k: int) -> int:
    """The longest sequence (bp) the model takes in one piece: 510 k-mers (or its position limit)."""
    kmers = min(kmer.MAX_KMERS, int(getattr(model.config, "max_position_embeddings", kmer.MAX_TOKENS)) - 2)
    return kmers + k - 1


def _chrom_hint(chrom: str, names: Sequence[str]) -> str:
    alias = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
    if alias in names:
        return f"; the genome has {alias!r} (chromosome naming differs)"
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    return f"; it has {shown}"


@dataclass(frozen=True)
class Checked:
    """A variant checked against the genome: its status and, if placed, its window (oriented) and alleles.

    ``ref``/``alt`` are on the window's strand (complemented on ``-``); ``sequence`` is
    empty unless the status is ``ok``.
    """

    status: str
    placement: Placement | None = None
    sequence: str = ""
    ref: str = ""
    alt: str = ""


@dataclass
class ReferenceWindows:
    """Checks each variant against the genome and fetches its window; strict mode raises instead of flagging."""

    fasta: pysam.FastaFile
    genome_path: Path
    vcf_path: Path
    placement: VariantWindows
    strict: bool
    sizes: dict[str, int] = field(init=False)  # chromosome lengths

    def __post_init__(self) -> None:
        self.sizes = dict(zip(self.fasta.references, self.fasta.lengths))

    def _fail(self, variant: VcfVariant, message: str, field_name: str) -> None:
        if self.strict:
            raise InputError(self.vcf_path, message, line=variant.line, field=field_name)

    def check(self, variant: VcfVariant) -> Checked:
        """The variant's status and (status ``ok``) its oriented window sequence and alleles."""
        where = f"{variant.chrom}:{variant.pos}"
        if variant.chrom not in self.sizes:
            self._fail(variant, f"chromosome {variant.chrom!r} is not in {self.genome_path.name}"
                       + _chrom_hint(variant.chrom, self.fasta.references), "CHROM")  # fmt: skip
            return Checked("unknown_chrom")
        if not variant.is_snv:
            return Checked("not_snv")
        place = self.placement.place(variant.chrom, variant.pos - 1)
        size = self.sizes[variant.chrom]
        if place.start < 0 or place.end > size:
            self._fail(variant, f"the {place.end - place.start} bp window of {where} ({place.start + 1}-{place.end}, "
                       f"{place.context}) runs past {variant.chrom} (1-{size} in {self.genome_path.name})", "POS")  # fmt: skip
            return Checked("out_of_bounds", place)
        sequence = self.fasta.fetch(variant.chrom, place.start, place.end).upper()
        genomic = sequence[variant.pos - 1 - place.start]
        if genomic != variant.ref:
            self._fail(variant, f"REF {variant.ref!r} does not match the genome: {self.genome_path.name} has "
                       f"{genomic!r} at {where}", "REF")  # fmt: skip
            return Checked("ref_mismatch", place)
        if place.strand == "-":
            return Checked("ok", place, reverse_complement(sequence), reverse_complement(variant.ref),
                           reverse_complement(variant.alt))  # fmt: skip
        return Checked("ok", place, sequence, variant.ref, variant.alt)


def placement_cells(checked: Checked) -> tuple:
    """The :data:`PLACEMENT_COLUMNS` of a checked variant (empty where it was not placed)."""
    place = checked.placement
    if place is None:
        return "", "", np.nan, np.nan
    return place.context, place.strand, place.start, place.end


# --------------------------------------------------------------------------- scoring


@dataclass
class _VcfTable:
    """The result as it is read: one row per ALT allele with its status; scores filled in batch by batch."""

    rows: list[tuple] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    prob_ref: list[float] = field(default_factory=list)
    prob_alt: list[float] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)  # variants per chromosome missing from the genome

    def add(self, variant: VcfVariant, checked: Checked) -> int:
        """Append a row (scores missing for now); returns its index."""
        self.rows.append((variant.chrom, variant.pos, variant.id, variant.ref, variant.alt, *placement_cells(checked)))
        self.status.append(checked.status)
        self.prob_ref.append(np.nan)
        self.prob_alt.append(np.nan)
        if checked.status == "unknown_chrom":
            self.unknown[variant.chrom] = self.unknown.get(variant.chrom, 0) + 1
        return len(self.rows) - 1

    def frame(self) -> pd.DataFrame:
        """The columns :data:`VCF_COLUMNS`, in input order."""
        table = pd.DataFrame(self.rows, columns=["chrom", "pos", "id", "ref", "alt", *PLACEMENT_COLUMNS])
        table.insert(5, "status", self.status)
        for column in ("window_start", "window_end"):
            table[column] = table[column].astype("Int64")
        for name, values in effect_columns(np.asarray(self.prob_ref), np.asarray(self.prob_alt)).items():
            table[name] = values
        return table


@dataclass
class _WindowBatch:
    """Reference windows waiting to be scored with their mutants; each distinct reference is scored once."""

    score: Callable[[list[str]], np.ndarray]  # target-class probability of each sequence
    table: _VcfTable
    bar: tqdm
    pending: list[tuple[int, Checked]] = field(default_factory=list)

    def add(self, row: int, checked: Checked) -> None:
        self.pending.append((row, checked))
        if len(self.pending) >= VCF_CHUNK:
            self.flush()

    def flush(self) -> None:
        """Score the pending windows and their mutants in one pass and fill their rows."""
        pending = self.pending
        refs = {seq: i for i, seq in enumerate(dict.fromkeys(c.sequence for _, c in pending))}
        alts = [c.sequence[: c.placement.offset] + c.alt + c.sequence[c.placement.offset + 1 :] for _, c in pending]
        probs = self.score([*refs, *alts])
        for (row, checked), p_alt in zip(pending, probs[len(refs) :]):
            self.table.prob_ref[row], self.table.prob_alt[row] = float(probs[refs[checked.sequence]]), float(p_alt)
        self.bar.update(len(pending))
        pending.clear()


def check_width(model: nn.Module, k: int, width: int) -> None:
    """A window the model takes in one piece: ``k`` to 510 + k - 1 bp."""
    longest = max_window(model, k)
    if not k <= width <= longest:
        raise InputError(None, f"must be between k = {k} and the model's input of {longest} bp, got {width}",
                         field="window")  # fmt: skip


def _check_arguments(model: nn.Module, k: int, width: int, target_class: int, on_mismatch: str) -> int:
    """Validate ``on_mismatch``, ``target_class`` and the window width; returns the target class."""
    if on_mismatch not in ON_MISMATCH:
        raise ValueError(f"on_mismatch must be one of {', '.join(ON_MISMATCH)}, got {on_mismatch!r}")
    target_class = check_target(model, target_class)
    check_width(model, k, width)
    return target_class


def log_summary(vcf_path: Path, genome_path: Path, unknown: dict[str, int], table: pd.DataFrame,
                names: list[str]) -> None:  # fmt: skip
    """Warn about an empty VCF and unknown chromosomes; log the count of each status."""
    if table.empty:
        log.warning("%s: no variants in the VCF", vcf_path)
    for chrom, count in unknown.items():
        log.warning("%s: %d variants on %r, which is not in %s%s", vcf_path, count, chrom, genome_path.name,
                    _chrom_hint(chrom, names))  # fmt: skip
    counts = table["status"].value_counts()
    log.info("%s: %d alleles; %s", vcf_path.name, len(table),
             ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES))  # fmt: skip


def score_vcf(
    model: nn.Module,
    k: int,
    vcf_path: PathLike,
    genome_fasta: PathLike,
    *,
    window: int | None = None,
    placement: VariantWindows | None = None,
    target_class: int = 1,
    on_mismatch: str = "flag",
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every SNV of a VCF in its window (``placement``, or ``window`` bp centred); one row per ALT allele.

    Returns the columns :data:`VCF_COLUMNS` in input order; rows that are not scored
    (status other than ``ok``) have empty scores. With ``on_mismatch="error"`` a REF
    that differs from the genome, an unknown chromosome or a window past a chromosome
    end raises :class:`InputError` (VCF file, line, field) instead of being flagged.
    """
    if (window is None) == (placement is None):
        raise ValueError("give exactly one of window or placement")
    placement = placement or centred(window)
    target_class = _check_arguments(model, k, placement.width, target_class, on_mismatch)
    vcf_path, genome_path = Path(vcf_path), Path(genome_fasta)
    result = _VcfTable()
    bar = tqdm(desc="score variants", unit="variant", disable=not progress, mininterval=5)

    def score(sequences: list[str]) -> np.ndarray:
        return target_probs(model, k, sequences, target_class=target_class, batch_size=batch_size, device=device,
                            autocast=autocast)  # fmt: skip

    with bar, open_genome(genome_path) as fasta:
        batch = _WindowBatch(score, result, bar)
        windows = ReferenceWindows(fasta, genome_path, vcf_path, placement, strict=on_mismatch == "error")
        for variant in read_vcf(vcf_path):
            checked = windows.check(variant)
            row = result.add(variant, checked)
            if checked.status == "ok":
                batch.add(row, checked)
        if batch.pending:
            batch.flush()
    table = result.frame()
    log.info("windows: %s", placement.description)
    log_summary(vcf_path, genome_path, result.unknown, table, list(windows.sizes))
    return table


def score_vcf_file(
    model_dir: PathLike,
    vcf: PathLike,
    genome: PathLike,
    out: PathLike,
    *,
    window: int | None = None,
    placement: VariantWindows | None = None,
    target_class: int = 1,
    on_mismatch: str = "flag",
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`score_vcf` with a model directory; without ``window`` or ``placement``: the model's input, centred."""
    progress = sys.stderr.isatty() if progress is None else progress
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    if placement is None:
        placement = centred(window or max_window(model, k))
    table = score_vcf(model, k, vcf, genome, placement=placement, target_class=target_class,
                      on_mismatch=on_mismatch, batch_size=batch_size, device=torch_device, autocast=autocast,
                      progress=progress)  # fmt: skip
    write_tsv(table, out)
    return table
