"""Ready-made labelled sequences: GUE / DNABERT-2 CSV, DNABERT k-mer TSV, FASTA.

* GUE / DNABERT-2 CSV: header ``sequence,label``, one sequence and an integer label per line.
* DNABERT TSV: header ``sequence<TAB>label``; the sequence is space-separated
  overlapping k-mers (converted back to the sequence and checked for overlap).
* FASTA: one label for the whole file (given in the config).

Sequences must be ACGTN (any case; upper-cased). Errors name file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dnabert.io import InputError, PathLike, open_text
from dnabert.sequence import read_fasta

FORMATS = ("csv", "dnabert_tsv", "fasta")
_SEQUENCE = re.compile(r"^[ACGTNacgtn]+$")
_SUFFIX_FORMAT = {".csv": "csv", ".tsv": "dnabert_tsv", ".fa": "fasta", ".fasta": "fasta", ".fna": "fasta"}


@dataclass
class LabelledSequences:
    """Sequences with integer labels, a name per sequence (line or record name) and its line in the file."""

    sequences: list[str]
    labels: list[int]
    names: list[str]
    path: str
    lines: list[int]

    def __len__(self) -> int:
        return len(self.sequences)


def infer_format(name: str) -> str | None:
    """Table format from a file name (``.csv``, ``.tsv``, ``.fa``/``.fasta``/``.fna``, optionally ``.gz``)."""
    suffixes = Path(name).suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIX_FORMAT.get(suffixes[-1].lower()) if suffixes else None


def _sequence(path: PathLike, text: str, line: int) -> str:
    if not _SEQUENCE.match(text):
        bad = next((c for c in text if c not in "ACGTNacgtn"), "")
        what = f"invalid base {bad!r}" if text else "empty sequence"
        raise InputError(path, f"{what}: sequences must be ACGTN", line=line, field="sequence")
    return text.upper()


def _label(path: PathLike, text: str, line: int) -> int:
    try:
        label = int(text)
    except ValueError:
        raise InputError(path, f"label must be an integer, got {text!r}", line=line, field="label") from None
    if label < 0:
        raise InputError(path, f"label must be 0 or more (classes are 0, 1, 2, ...), got {label}", line=line,
                         field="label")  # fmt: skip
    return label


def _finish(path: PathLike, sequences, labels, names, lines) -> LabelledSequences:
    if not sequences:
        raise InputError(path, "no sequences in the file")
    return LabelledSequences(sequences, labels, names, str(path), lines)


def check_labels(first: Mapping[int, tuple[str, int | None]], n_files: int) -> None:
    """Labels must be 0..C-1 with C >= 2; ``first`` maps each label to the file and line it first occurs on.

    Raises an InputError naming that file (and line): for one class only, or for a
    gap (e.g. labels 0 and 2 without 1), at the first label above the gap.
    """
    labels = sorted(first)
    if len(labels) < 2:
        path, _ = first[labels[0]]
        where = "the file" if n_files == 1 else f"all {n_files} files of the task"
        raise InputError(path, f"only one class (label {labels[0]}) in {where}: a classifier needs at least two",
                         field="label")  # fmt: skip
    missing = sorted(set(range(labels[-1] + 1)) - set(labels))
    if missing:
        above = next(label for label in labels if label > missing[0])
        path, line = first[above]
        raise InputError(path, f"labels must be 0..C-1 without gaps: label {above} occurs but {missing[0]} never "
                               f"does (labels: {', '.join(map(str, labels))})", line=line, field="label")  # fmt: skip


def table_labels(tables: Sequence[LabelledSequences]) -> None:
    """:func:`check_labels` over all files of a table task."""
    first: dict[int, tuple[str, int | None]] = {}
    for table in tables:
        for label, line in zip(table.labels, table.lines):
            first.setdefault(label, (table.path, line))
    check_labels(first, len(tables))


_SEPARATORS = {",": (",", "comma"), "\t": ("<TAB>", "tab")}  # as the header shows it, its name


def _read_two_columns(path: PathLike, sep: str, to_sequence: Callable[[str, int], str]) -> LabelledSequences:
    """Rows ``sequence<sep>label`` under that header; ``to_sequence(text, line)`` checks and converts a sequence."""
    shown, sep_name = _SEPARATORS[sep]
    sequences, labels, names, lines = [], [], [], []
    with open_text(path) as handle:
        header = handle.readline().rstrip("\r\n")
        if header.split(sep) != ["sequence", "label"]:
            raise InputError(path, f"expected the header 'sequence{shown}label', got {header[:60]!r}", line=1)
        for line_no, line in enumerate(handle, 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split(sep)
            if len(fields) != 2:
                raise InputError(path, f"expected 2 {sep_name}-separated columns, got {len(fields)}", line=line_no)
            sequences.append(to_sequence(fields[0], line_no))
            labels.append(_label(path, fields[1].strip(), line_no))
            names.append(f"{Path(path).name}:{line_no}")
            lines.append(line_no)
    return _finish(path, sequences, labels, names, lines)


def read_gue_csv(path: PathLike) -> LabelledSequences:
    """A GUE / DNABERT-2 CSV with header ``sequence,label``."""
    return _read_two_columns(path, ",", lambda text, line: _sequence(path, text.strip(), line))


def kmers_to_sequence(kmers: list[str], path: PathLike = "", line: int | None = None) -> str:
    """Join overlapping k-mers back into the sequence, checking that each overlaps the next."""
    if not kmers:
        raise InputError(path, "empty k-mer sequence", line=line, field="sequence")
    k = len(kmers[0])
    for i, (a, b) in enumerate(zip(kmers, kmers[1:]), 2):
        if len(b) != k:
            raise InputError(path, f"k-mer {i} has length {len(b)}, expected {k}", line=line, field="sequence")
        if a[1:] != b[:-1]:
            raise InputError(path, f"k-mers {i - 1} and {i} ({a}, {b}) do not overlap by {k - 1}", line=line,
                             field="sequence")
    return kmers[0] + "".join(kmer[-1] for kmer in kmers[1:])


def read_dnabert_tsv(path: PathLike) -> LabelledSequences:
    """A DNABERT fine-tuning TSV: header, then space-separated k-mers, a tab, and a label."""

    def to_sequence(text: str, line: int) -> str:
        kmers = text.split()
        for kmer in kmers:
            _sequence(path, kmer, line)
        return kmers_to_sequence([kmer.upper() for kmer in kmers], path, line)

    return _read_two_columns(path, "\t", to_sequence)


def read_fasta_table(path: PathLike, label: int) -> LabelledSequences:
    """A (gzipped) FASTA whose records all get ``label``."""
    records = list(read_fasta(path))
    sequences = [_sequence(path, record.sequence, record.line) for record in records]
    return _finish(path, sequences, [label] * len(sequences), [record.name for record in records],
                   [record.line for record in records])


def read_table(path: PathLike, fmt: str, label: int | None = None) -> LabelledSequences:
    """Read one table file in ``fmt`` (see :data:`FORMATS`); FASTA needs ``label``."""
    if fmt == "csv":
        return read_gue_csv(path)
    if fmt == "dnabert_tsv":
        return read_dnabert_tsv(path)
    if fmt == "fasta":
        if label is None or label < 0:
            raise InputError(path, f"a FASTA table file needs a label 0 or more, got {label}", field="label")
        return read_fasta_table(path, label)
    raise ValueError(f"unknown table format {fmt!r}; use one of {', '.join(FORMATS)}")
