"""Variant effects with a fine-tuned classifier: in-silico mutagenesis and SNP scoring.

DNABERT's SNP analysis (Ji et al. 2021, Fig. 5) scores how a base change moves the
classifier's probability of a class (``target_class``, by default 1: the positive
class). Every score compares a mutant with its reference sequence:

``delta_prob``      ``p_alt - p_ref`` of the target class;
``log_odds_ratio``  ``log(p_alt / (1 - p_alt)) - log(p_ref / (1 - p_ref))`` (natural log;
                    probabilities clipped to ``[1e-6, 1 - 1e-6]`` so it stays finite).

Three inputs:

* :func:`ism` -- in-silico saturation mutagenesis of one sequence: the reference and
  every position x the 3 other bases (4 where the reference base is not A/C/G/T),
  built as one mutant matrix and scored in one batched pass. :func:`ism_records`
  does several sequences; :func:`plot_ism` draws a heatmap panel per sequence.
* :func:`score_vcf` -- the SNVs of a VCF (plain or gzipped; multi-allelic ALT split
  into one row per allele), each scored in a window of ``window`` bp centred on the
  variant, fetched from an indexed genome FASTA. REF is checked against the genome.
  Rows that are not scored keep their place with a status: ``not_snv``,
  ``ref_mismatch``, ``out_of_bounds`` (the window runs past the chromosome) or
  ``unknown_chrom``; with ``on_mismatch="error"`` the last three raise
  :class:`~dnabert.io.InputError` naming the VCF line and field instead.
* :func:`score_mutations` -- DNABERT's own mutation file (``idx start end
  replacement``; 0-based half-open, empty replacement = deletion) applied to the
  sequences of a dataset table.

Command line: ``python -m dnabert.interpret.variants {ism,vcf,mutations} ...`` (``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import logging
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.lm import kmer
from dnabert.lm.inference import combine_windows, encode, load_for_inference, predict_rows, predict_sequences
from dnabert.io import InputError, PathLike, atomic_write, is_gzipped, open_text
from dnabert.lm.predict import Record, read_fasta_records

log = logging.getLogger(__name__)

BASES = "ACGT"  # heatmap row order
EPS = 1e-6  # probability clipping for log odds
MAX_MUTANT_BASES = 1 << 24  # bases of mutant sequences built at once (bounds ISM memory)
VCF_CHUNK = 2048  # variants scored per pass
STATUSES = ("ok", "not_snv", "ref_mismatch", "out_of_bounds", "unknown_chrom")
ISM_COLUMNS = ("position", "ref", "alt", "prob_ref", "prob_alt", "delta_prob", "log_odds_ratio")
VCF_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "status", "prob_ref", "prob_alt", "delta_prob", "log_odds_ratio")
MUTATION_COLUMNS = ("idx", "id", "start", "end", "ref", "alt", "prob_ref", "prob_alt", "delta_prob",
                    "log_odds_ratio")  # fmt: skip
ON_MISMATCH = ("flag", "error")

Autocast = Callable[[], contextlib.AbstractContextManager]
_BASE_ROW = np.full(256, -1, dtype=np.int64)
for _row, _base in enumerate(BASES):
    _BASE_ROW[ord(_base)] = _row
_VCF_BASES = re.compile(r"^[ACGTN]+$", re.IGNORECASE)
# ALT alleles that are valid VCF but not sequence: '*' (overlapping deletion), '.'
# (no ALT), symbolic <DEL>, breakends (t[p[, ]p]t, .t, t.).
_VCF_OTHER_ALT = re.compile(r"^(\*|\.|<[^<>]+>|[ACGTN]*[\[\]]\S*|\.[ACGTN]+|[ACGTN]+\.)$", re.IGNORECASE)


# --------------------------------------------------------------------------- scores


def log_odds(p: np.ndarray) -> np.ndarray:
    """Natural-log odds ``log(p / (1 - p))`` with ``p`` clipped to ``[EPS, 1 - EPS]``."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def effect_columns(prob_ref: np.ndarray, prob_alt: np.ndarray) -> dict[str, np.ndarray]:
    """``prob_ref prob_alt delta_prob log_odds_ratio`` columns of alt-versus-ref scores."""
    prob_ref = np.asarray(prob_ref, dtype=np.float64)
    prob_alt = np.asarray(prob_alt, dtype=np.float64)
    return {"prob_ref": prob_ref, "prob_alt": prob_alt, "delta_prob": prob_alt - prob_ref,
            "log_odds_ratio": log_odds(prob_alt) - log_odds(prob_ref)}  # fmt: skip


def _check_target(model: nn.Module, target_class: int) -> int:
    n = int(model.config.num_labels)
    if not 0 <= target_class < n:
        raise InputError(None, f"the model has {n} classes (0..{n - 1}), got {target_class}", field="target_class")
    return int(target_class)


def _device_of(model: nn.Module, device: torch.device | None) -> torch.device:
    return device or next(model.parameters()).device


def target_probs(
    model: nn.Module,
    k: int,
    sequences: Sequence[str],
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> np.ndarray:
    """Target-class probability of each sequence (long ones split into windows, weighted mean)."""
    encoded = encode(list(sequences), k, "split")
    probs = predict_rows(model, encoded, batch_size, _device_of(model, device), autocast, progress)
    return combine_windows(probs, encoded, "mean")[:, target_class]


# --------------------------------------------------------------------------- in-silico mutagenesis


def _as_codes(sequence: str) -> np.ndarray:
    try:
        return np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        raise ValueError("sequence has non-ASCII characters") from None


def mutant_table(sequence: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every single-base substitution: ``(position, ref byte, alt byte)`` arrays, position-major.

    Three alternatives at an A/C/G/T position, all four elsewhere (e.g. at N).
    """
    codes = _as_codes(sequence)
    bases = np.frombuffer(BASES.encode(), dtype=np.uint8)
    keep = bases[None, :] != codes[:, None]
    position, column = np.nonzero(keep)
    return position, codes[position], bases[column]


def mutant_sequences(sequence: str, position: np.ndarray, alt: np.ndarray) -> list[str]:
    """The sequences with ``alt[i]`` at ``position[i]`` (one matrix, rows decoded at once)."""
    codes = _as_codes(sequence)
    matrix = np.repeat(codes[None, :], position.size, axis=0)
    matrix[np.arange(position.size), position] = alt
    return matrix.view(f"S{codes.size}").ravel().astype(f"U{codes.size}").tolist()


def ism(
    model: nn.Module,
    sequence: str,
    k: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """In-silico saturation mutagenesis of one sequence.

    Returns one row per substitution (3 per A/C/G/T position): ``position`` (0-based),
    ``ref``, ``alt``, ``prob_ref``, ``prob_alt``, ``delta_prob``, ``log_odds_ratio``.
    The reference and all mutants are encoded and scored together (in slices of
    :data:`MAX_MUTANT_BASES` bases for very long sequences).
    """
    target_class = _check_target(model, target_class)
    sequence = sequence.upper()
    if len(sequence) < k:
        raise ValueError(f"sequence of {len(sequence)} bp is shorter than k = {k}")
    position, ref, alt = mutant_table(sequence)
    per_pass = max(1, MAX_MUTANT_BASES // len(sequence))
    prob_alt = np.empty(position.size)
    prob_ref = np.nan
    for start in range(0, position.size, per_pass):
        stop = min(start + per_pass, position.size)
        mutants = mutant_sequences(sequence, position[start:stop], alt[start:stop])
        batch = [sequence, *mutants] if start == 0 else mutants
        probs = target_probs(model, k, batch, target_class=target_class, batch_size=batch_size, device=device,
                             autocast=autocast, progress=progress)  # fmt: skip
        if start == 0:
            prob_ref, probs = float(probs[0]), probs[1:]
        prob_alt[start:stop] = probs
    table = pd.DataFrame({
        "position": position.astype(np.int64),
        "ref": ref.view("S1").astype("U1"),
        "alt": alt.view("S1").astype("U1"),
        **effect_columns(np.full(position.size, prob_ref), prob_alt),
    })  # fmt: skip
    return table


def ism_records(
    model: nn.Module,
    records: Sequence[Record],
    k: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`ism` of several sequences, stacked, with their ``id`` as the first column."""
    tables = []
    for record in tqdm(records, desc="ISM", unit="seq", disable=not progress or len(records) < 2):
        table = ism(model, record.sequence, k, target_class=target_class, batch_size=batch_size, device=device,
                    autocast=autocast)  # fmt: skip
        table.insert(0, "id", record.id)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=["id", *ISM_COLUMNS])
    return pd.concat(tables, ignore_index=True)


def write_tsv(table: pd.DataFrame, path: PathLike) -> None:
    """A score table as TSV (header, ``%.6g`` floats, empty cells for missing scores), written atomically."""
    with atomic_write(path) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g", na_rep="", lineterminator="\n")


def _base_rows(bases: pd.Series) -> np.ndarray:
    """Heatmap row (A C G T) of each single-base string; -1 for anything else."""
    return _BASE_ROW[np.frombuffer("".join(bases).encode("ascii"), dtype=np.uint8)]


def plot_ism(table: pd.DataFrame, path: PathLike, *, target_class: int = 1) -> None:
    """Heatmap of an ISM table: per sequence a panel of 4 bases x positions, coloured by ``delta_prob``.

    Colours share one symmetric scale centred at 0 (diverging map); the reference base
    of each position is marked with a dot, and each panel's title gives the sequence
    name and its reference probability.
    """
    from matplotlib.ticker import MaxNLocator

    from dnabert.plots import DIVERGING_CMAP, figure, save

    groups = list(table.groupby("id", sort=False)) if "id" in table.columns else [("sequence", table)]
    if not groups or table.empty:
        raise ValueError("nothing to plot: the ISM table is empty")
    length = int(table["position"].max()) + 1
    limit = float(np.nanmax(np.abs(table["delta_prob"].to_numpy()))) or 1e-6
    width = float(np.clip(0.09 * length + 2.5, 7, 40))
    fig, axes = figure(len(groups), 1, figsize=(width, 1.45 * len(groups) + 1.0), squeeze=False,
                       constrained_layout=True)  # fmt: skip
    image = None
    for ax, (name, group) in zip(axes[:, 0], groups):
        n = int(group["position"].max()) + 1
        grid = np.zeros((len(BASES), n))
        position = group["position"].to_numpy()
        alt_row = _base_rows(group["alt"])
        grid[alt_row, position] = group["delta_prob"].to_numpy()
        image = ax.imshow(grid, aspect="auto", cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit,
                          interpolation="nearest", extent=(-0.5, n - 0.5, len(BASES) - 0.5, -0.5))  # fmt: skip
        refs = group.drop_duplicates("position")
        ref_row = _base_rows(refs["ref"])
        known = ref_row >= 0
        ax.scatter(refs["position"].to_numpy()[known], ref_row[known], s=float(np.clip(900 / n, 2, 25)), c="black",
                   marker="o", linewidths=0, label="reference base")  # fmt: skip
        ax.set_yticks(range(len(BASES)), list(BASES))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=20))
        ax.set_xlim(-0.5, length - 0.5)
        ax.grid(False)
        ax.set_ylabel("alt base")
        p_ref = float(group["prob_ref"].iloc[0])
        ax.set_title(f"{name}: P(class {target_class}) = {p_ref:.3f}", fontsize="medium")
    axes[-1, 0].set_xlabel("position (bp, 0-based); dot = reference base")
    colorbar = fig.colorbar(image, ax=axes[:, 0].tolist(), shrink=1.0, pad=0.01)
    colorbar.set_label(f"\u0394 P(class {target_class})\n(mutant \u2212 reference)")
    fig.suptitle("In-silico mutagenesis", fontweight="bold")
    save(fig, path)


# --------------------------------------------------------------------------- VCF


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
                header = line[1:].split("\t")
                if header[:5] != ["CHROM", "POS", "ID", "REF", "ALT"]:
                    raise InputError(path, f"expected a header '#CHROM<TAB>POS<TAB>ID<TAB>REF<TAB>ALT...', got "
                                     f"{line[:60]!r}", line=line_no)  # fmt: skip
                n_columns = len(header)
                continue
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
            if not _VCF_BASES.match(ref):
                raise InputError(path, f"REF must be bases A/C/G/T/N, got {ref!r}", line=line_no, field="REF")
            for alt in alts.split(","):
                if not (_VCF_BASES.match(alt) or _VCF_OTHER_ALT.match(alt)):
                    raise InputError(path, f"invalid ALT allele {alt!r} (bases A/C/G/T/N, '*', '.', <ID> or a "
                                     "breakend)", line=line_no, field="ALT")  # fmt: skip
                yield VcfVariant(line_no, chrom, pos, ident or ".", ref.upper(), alt.upper())


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


def window_bounds(pos: int, window: int) -> tuple[int, int, int]:
    """0-based half-open ``(start, end, offset)`` of a ``window`` centred on 1-based ``pos``.

    The variant is at ``offset = window // 2`` in the window (the middle for odd windows).
    """
    offset = window // 2
    start = pos - 1 - offset
    return start, start + window, offset


def _chrom_hint(chrom: str, names: Sequence[str]) -> str:
    alias = chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"
    if alias in names:
        return f"; the genome has {alias!r} (chromosome naming differs)"
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    return f"; it has {shown}"


def score_vcf(
    model: nn.Module,
    k: int,
    vcf_path: PathLike,
    genome_fasta: PathLike,
    *,
    window: int,
    target_class: int = 1,
    on_mismatch: str = "flag",
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every SNV of a VCF in a ``window``-bp genome window centred on it; one row per ALT allele.

    Returns the columns :data:`VCF_COLUMNS` in input order; rows that are not scored
    (status other than ``ok``) have empty scores. With ``on_mismatch="error"`` a REF
    that differs from the genome, an unknown chromosome or a window past a chromosome
    end raises :class:`InputError` (VCF file, line, field) instead of being flagged.
    """
    if on_mismatch not in ON_MISMATCH:
        raise ValueError(f"on_mismatch must be one of {', '.join(ON_MISMATCH)}, got {on_mismatch!r}")
    target_class = _check_target(model, target_class)
    longest = max_window(model, k)
    if not k <= window <= longest:
        raise InputError(None, f"must be between k = {k} and the model's input of {longest} bp, got {window}",
                         field="window")  # fmt: skip
    vcf_path, genome_path = Path(vcf_path), Path(genome_fasta)
    strict = on_mismatch == "error"
    rows: list[tuple] = []
    status: list[str] = []
    pending: list[tuple[int, str, int]] = []  # (row, window sequence, variant offset)
    prob_ref: list[float] = []
    prob_alt: list[float] = []
    unknown: dict[str, int] = {}
    bar = tqdm(desc="score variants", unit="variant", disable=not progress, mininterval=5)

    def flush() -> None:
        refs = {seq: i for i, seq in enumerate(dict.fromkeys(seq for _, seq, _ in pending))}
        alts = []
        for row, seq, offset in pending:
            alts.append(seq[:offset] + rows[row][4] + seq[offset + 1 :])
        probs = target_probs(model, k, [*refs, *alts], target_class=target_class, batch_size=batch_size,
                             device=device, autocast=autocast)  # fmt: skip
        for (row, seq, _), p_alt in zip(pending, probs[len(refs) :]):
            prob_ref[row], prob_alt[row] = float(probs[refs[seq]]), float(p_alt)
        bar.update(len(pending))
        pending.clear()

    with open_genome(genome_path) as fasta:
        sizes = dict(zip(fasta.references, fasta.lengths))
        for variant in read_vcf(vcf_path):
            row = len(rows)
            rows.append((variant.chrom, variant.pos, variant.id, variant.ref, variant.alt))
            prob_ref.append(np.nan)
            prob_alt.append(np.nan)
            where = f"{variant.chrom}:{variant.pos}"
            if variant.chrom not in sizes:
                if strict:
                    raise InputError(vcf_path, f"chromosome {variant.chrom!r} is not in {genome_path.name}"
                                     + _chrom_hint(variant.chrom, fasta.references), line=variant.line,
                                     field="CHROM")  # fmt: skip
                unknown[variant.chrom] = unknown.get(variant.chrom, 0) + 1
                status.append("unknown_chrom")
                continue
            if not variant.is_snv:
                status.append("not_snv")
                continue
            start, end, offset = window_bounds(variant.pos, window)
            size = sizes[variant.chrom]
            if start < 0 or end > size:
                if strict:
                    raise InputError(vcf_path, f"the {window} bp window centred on {where} ({start + 1}-{end}) runs "
                                     f"past {variant.chrom} (1-{size} in {genome_path.name})", line=variant.line,
                                     field="POS")  # fmt: skip
                status.append("out_of_bounds")
                continue
            sequence = fasta.fetch(variant.chrom, start, end).upper()
            if sequence[offset] != variant.ref:
                if strict:
                    raise InputError(vcf_path, f"REF {variant.ref!r} does not match the genome: "
                                     f"{genome_path.name} has {sequence[offset]!r} at {where}", line=variant.line,
                                     field="REF")  # fmt: skip
                status.append("ref_mismatch")
                continue
            status.append("ok")
            pending.append((row, sequence, offset))
            if len(pending) >= VCF_CHUNK:
                flush()
        if pending:
            flush()
    bar.close()
    if not rows:
        log.warning("%s: no variants in the VCF", vcf_path)
    for chrom, count in unknown.items():
        log.warning("%s: %d variants on %r, which is not in %s%s", vcf_path, count, chrom, genome_path.name,
                    _chrom_hint(chrom, list(sizes)))  # fmt: skip
    table = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt"])
    table["status"] = status
    for name, values in effect_columns(np.asarray(prob_ref), np.asarray(prob_alt)).items():
        table[name] = values
    counts = table["status"].value_counts()
    log.info("%s: %d alleles; %s", vcf_path.name, len(table),
             ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES))  # fmt: skip
    return table


# --------------------------------------------------------------------------- DNABERT mutation files


@dataclass(frozen=True)
class Mutation:
    """One line of a DNABERT mutation file: replace ``sequence[idx][start:end]`` by ``replacement``."""

    line: int
    idx: int
    start: int
    end: int
    replacement: str


def read_mutation_file(path: PathLike) -> list[Mutation]:
    """DNABERT's mutation file: ``idx start end [replacement]`` per line (tab-separated, 0-based half-open).

    An empty or missing replacement is a deletion; ``start == end`` is an insertion.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "mutation file not found")
    mutations = []
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if not 3 <= len(fields) <= 4:
                raise InputError(path, f"expected 3 or 4 tab-separated columns (idx start end replacement), got "
                                 f"{len(fields)}", line=line_no)  # fmt: skip
            values = []
            for name, text in zip(("idx", "start", "end"), fields):
                try:
                    values.append(int(text))
                except ValueError:
                    raise InputError(path, f"{name} must be an integer, got {text!r}", line=line_no,
                                     field=name) from None  # fmt: skip
            idx, start, end = values
            if idx < 0 or start < 0:
                raise InputError(path, "idx and start must not be negative", line=line_no,
                                 field="idx" if idx < 0 else "start")  # fmt: skip
            if end < start:
                raise InputError(path, f"end {end} is before start {start}", line=line_no, field="end")
            replacement = fields[3].strip().upper() if len(fields) == 4 else ""
            if replacement and not _VCF_BASES.match(replacement):
                raise InputError(path, f"replacement must be bases A/C/G/T/N, got {replacement!r}", line=line_no,
                                 field="replacement")  # fmt: skip
            mutations.append(Mutation(line_no, idx, start, end, replacement))
    if not mutations:
        raise InputError(path, "no mutations in the file")
    return mutations


def score_mutations(
    model: nn.Module,
    k: int,
    sequences: Sequence[str],
    mutations: Sequence[Mutation],
    *,
    ids: Sequence[str] | None = None,
    mutation_path: PathLike | None = None,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> pd.DataFrame:
    """Score DNABERT-style mutations of ``sequences`` (columns :data:`MUTATION_COLUMNS`, input order)."""
    target_class = _check_target(model, target_class)
    ids = list(ids) if ids is not None else [f"seq{i}" for i in range(len(sequences))]
    mutated, refs = [], []
    for m in mutations:
        if m.idx >= len(sequences):
            raise InputError(mutation_path, f"idx {m.idx} but there are {len(sequences)} sequences", line=m.line,
                             field="idx")  # fmt: skip
        seq = sequences[m.idx].upper()
        if m.end > len(seq):
            raise InputError(mutation_path, f"end {m.end} is past sequence {m.idx} ({len(seq)} bp)", line=m.line,
                             field="end")  # fmt: skip
        mutated.append(seq[: m.start] + m.replacement + seq[m.end :])
        refs.append(seq[m.start : m.end])
    used = sorted({m.idx for m in mutations})
    originals = [sequences[i].upper() for i in used]
    probs = target_probs(model, k, [*originals, *mutated], target_class=target_class, batch_size=batch_size,
                         device=device, autocast=autocast, progress=progress)  # fmt: skip
    by_idx = dict(zip(used, probs[: len(used)]))
    table = pd.DataFrame({
        "idx": [m.idx for m in mutations],
        "id": [ids[m.idx] for m in mutations],
        "start": [m.start for m in mutations],
        "end": [m.end for m in mutations],
        "ref": refs,
        "alt": [m.replacement for m in mutations],
        **effect_columns(np.array([by_idx[m.idx] for m in mutations]), probs[len(used) :]),
    })  # fmt: skip
    return table


def read_sequence_table(path: PathLike) -> tuple[list[str], list[int], list[str]]:
    """Sequences, labels and ids of a dataset TSV(.gz) (``sequence label ...``) or a DNABERT k-mer TSV."""
    from dnabert.lm.evaluation import read_split
    from dnabert.data.tables import read_dnabert_tsv

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "sequence table not found")
    with open_text(path) as handle:
        handle.readline()
        first = handle.readline().split("\t", 1)[0]
    if " " in first.strip():
        table = read_dnabert_tsv(path)
        return table.sequences, list(table.labels), table.names
    split = read_split(path)
    return split.sequences, split.labels.tolist(), split.ids


# --------------------------------------------------------------------------- file-level entry points


def top_positives(
    model: nn.Module,
    k: int,
    records: Sequence[Record],
    labels: Sequence[int],
    n: int,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    source: PathLike | None = None,
) -> list[Record]:
    """The ``n`` records labelled ``target_class`` that the model scores highest for it, best first."""
    positives = [r for r, label in zip(records, labels) if label == target_class]
    if not positives:
        raise InputError(source, f"no sequences with label {target_class}", field="label")
    probs, _ = predict_sequences(model, [r.sequence for r in positives], k, batch_size=batch_size,
                                 device=_device_of(model, device), autocast=autocast)  # fmt: skip
    order = np.argsort(-probs[:, target_class], kind="stable")[:n]
    return [positives[i] for i in order]


def ism_file(
    model_dir: PathLike,
    out_tsv: PathLike,
    out_png: PathLike | None = None,
    *,
    fasta: PathLike | None = None,
    dataset: PathLike | None = None,
    top: int | None = 10,
    target_class: int = 1,
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """ISM of the records of ``fasta`` (all, or the ``top`` best-scoring) or of the ``top`` best positives of
    ``dataset`` (a TSV with ``sequence label`` columns); writes the table and, if asked, the heatmap."""
    if (fasta is None) == (dataset is None):
        raise ValueError("give exactly one of fasta or dataset")
    progress = sys.stderr.isatty() if progress is None else progress
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    target_class = _check_target(model, target_class)
    if fasta is not None:
        records = list(read_fasta_records(fasta))
        labels = [target_class] * len(records)
        source = fasta
    else:
        sequences, labels, ids = read_sequence_table(dataset)
        records = [Record(i, s) for i, s in zip(ids, sequences)]
        source = dataset
    if top is not None and (dataset is not None or top < len(records)):
        records = top_positives(model, k, records, labels, top, target_class=target_class, batch_size=batch_size,
                                device=torch_device, autocast=autocast, source=source)  # fmt: skip
    log.info("in-silico mutagenesis of %d sequences from %s (%d substitutions)", len(records), source,
             sum(3 * len(r.sequence) for r in records))  # fmt: skip
    table = ism_records(model, records, k, target_class=target_class, batch_size=batch_size, device=torch_device,
                        autocast=autocast, progress=progress)  # fmt: skip
    write_tsv(table, out_tsv)
    if out_png is not None:
        plot_ism(table, out_png, target_class=target_class)
    return table


def score_vcf_file(
    model_dir: PathLike,
    vcf: PathLike,
    genome: PathLike,
    out: PathLike,
    *,
    window: int | None = None,
    target_class: int = 1,
    on_mismatch: str = "flag",
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """:func:`score_vcf` with a model directory; ``window`` defaults to the model's input (510 + k - 1 bp)."""
    progress = sys.stderr.isatty() if progress is None else progress
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    window = window or max_window(model, k)
    table = score_vcf(model, k, vcf, genome, window=window, target_class=target_class, on_mismatch=on_mismatch,
                      batch_size=batch_size, device=torch_device, autocast=autocast, progress=progress)  # fmt: skip
    write_tsv(table, out)
    return table


def score_mutation_file(
    model_dir: PathLike,
    sequences: PathLike,
    mutations: PathLike,
    out: PathLike,
    *,
    target_class: int = 1,
    batch_size: int = 128,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> pd.DataFrame:
    """:func:`score_mutations` of a DNABERT mutation file on a sequence table; writes ``out``."""
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    seqs, _, ids = read_sequence_table(sequences)
    table = score_mutations(model, k, seqs, read_mutation_file(mutations), ids=ids, mutation_path=mutations,
                            target_class=target_class, batch_size=batch_size, device=torch_device,
                            autocast=autocast)  # fmt: skip
    write_tsv(table, out)
    return table


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dnabert.interpret.variants", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, type=Path, help="fine-tuned model directory "
                        "(results/finetune/{task}/seed{seed}/model)")  # fmt: skip
    common.add_argument("--target-class", type=int, default=1, help="class whose probability is compared (default 1)")
    common.add_argument("--batch-size", type=int, default=128)
    common.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    common.add_argument("--threads", type=int, default=None)
    commands = parser.add_subparsers(dest="command", required=True)

    ism_parser = commands.add_parser("ism", parents=[common], help="in-silico mutagenesis heatmaps")
    source = ism_parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fasta", type=Path, help="sequences to mutate (FASTA, plain or gzipped)")
    source.add_argument("--dataset", type=Path, help="dataset TSV(.gz) with sequence and label columns")
    ism_parser.add_argument("--top", type=int, default=None,
                            help="take the N best-scoring positives (default: 10 with --dataset, all with --fasta)")
    ism_parser.add_argument("--out-tsv", required=True, type=Path)
    ism_parser.add_argument("--out-png", type=Path, default=None)

    vcf_parser = commands.add_parser("vcf", parents=[common], help="score the SNVs of a VCF")
    vcf_parser.add_argument("--vcf", required=True, type=Path, help="VCF, plain or gzipped")
    vcf_parser.add_argument("--genome", required=True, type=Path, help="indexed genome FASTA (.fai; .gzi if bgzipped)")
    vcf_parser.add_argument("--window", type=int, default=None,
                            help="bp around each variant (default: the model's input, 510 + k - 1; "
                                 "best: the length the model was fine-tuned on)")  # fmt: skip
    vcf_parser.add_argument("--on-mismatch", choices=ON_MISMATCH, default="flag",
                            help="REF differs from the genome etc.: flag the row (default) or stop with an error")
    vcf_parser.add_argument("--out", required=True, type=Path)

    mut_parser = commands.add_parser("mutations", parents=[common], help="score a DNABERT mutation file")
    mut_parser.add_argument("--sequences", required=True, type=Path, help="dataset TSV(.gz) or DNABERT k-mer TSV")
    mut_parser.add_argument("--mutations", required=True, type=Path, help="idx start end replacement per line")
    mut_parser.add_argument("--out", required=True, type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    common = {"target_class": args.target_class, "batch_size": args.batch_size, "device": args.device,
              "threads": args.threads}  # fmt: skip
    try:
        if args.command == "ism":
            top = args.top if args.top is not None else (10 if args.dataset is not None else None)
            ism_file(args.model, args.out_tsv, args.out_png, fasta=args.fasta, dataset=args.dataset, top=top,
                     **common)  # fmt: skip
        elif args.command == "vcf":
            score_vcf_file(args.model, args.vcf, args.genome, args.out, window=args.window,
                           on_mismatch=args.on_mismatch, **common)  # fmt: skip
        else:
            score_mutation_file(args.model, args.sequences, args.mutations, args.out, **common)
    except InputError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
