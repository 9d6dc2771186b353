"""Sequence primitives every stage shares: reverse complement, GC/N content, one-hot, FASTA reading.

Sequences come in two forms: Python strings, and ``uint8`` arrays of ASCII codes
(``(n, width)`` for a batch of equal-length windows, as :mod:`dnabert.data.intervals`
cuts them from the genome). The helpers here work on either, vectorised for arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnabert.io import InputError, PathLike, open_text

_TEXT_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")

# ASCII code tables: complement (of the letters we keep), upper-casing, N and G/C membership.
ASCII_COMPLEMENT = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan"):
    ASCII_COMPLEMENT[_a] = _b
ASCII_UPPER = np.arange(256, dtype=np.uint8)
ASCII_UPPER[ord("a") : ord("z") + 1] -= 32
IS_N = np.zeros(256, dtype=bool)
IS_N[[ord("N"), ord("n")]] = True
IS_GC = np.zeros(256, dtype=bool)
IS_GC[[ord(c) for c in "GCgc"]] = True


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA string (ACGTN, case kept)."""
    return sequence.translate(_TEXT_COMPLEMENT)[::-1]


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of each row of an ASCII array (or of a 1-D sequence)."""
    return ASCII_COMPLEMENT[codes[..., ::-1]]


def upper(codes: np.ndarray) -> np.ndarray:
    """ASCII codes upper-cased."""
    return ASCII_UPPER[codes]


def n_fraction(codes: np.ndarray) -> np.ndarray:
    """Fraction of N per row of an ASCII array."""
    return IS_N[codes].mean(axis=1) if codes.shape[1] else np.zeros(codes.shape[0])


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """GC fraction per row among non-N bases (0 for an all-N row)."""
    gc = IS_GC[codes].sum(axis=1)
    real = codes.shape[1] - IS_N[codes].sum(axis=1)
    return gc / np.maximum(real, 1)


def to_strings(codes: np.ndarray) -> list[str]:
    """Rows of an ``(n, width)`` ASCII array as Python strings."""
    if codes.shape[0] == 0:
        return []
    width = codes.shape[1]
    if width == 0:
        return [""] * codes.shape[0]
    return [b.decode("ascii") for b in np.ascontiguousarray(codes).view(f"S{width}").ravel().tolist()]


def from_strings(sequences: Sequence[str]) -> np.ndarray:
    """Equal-length strings as an ``(n, width)`` ASCII array."""
    if not sequences:
        return np.zeros((0, 0), dtype=np.uint8)
    width = len(sequences[0])
    joined = "".join(sequences).encode("ascii")
    if len(joined) != width * len(sequences):
        raise ValueError("from_strings() needs equal-length sequences")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(sequences), width).copy()


def one_hot(codes: np.ndarray) -> np.ndarray:
    """``(n, length)`` upper-case ASCII codes to ``(n, 4, length)`` int8 one-hot in ACGT order (N: zeros)."""
    out = np.zeros((codes.shape[0], 4, codes.shape[1]), dtype=np.int8)
    for k, letter in enumerate(b"ACGT"):
        out[:, k, :] = codes == letter
    return out


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: the first word of its header, its sequence (as written) and the header's line."""

    name: str
    sequence: str
    line: int


def read_fasta(path: PathLike) -> Iterator[FastaRecord]:
    """The records of a (gzipped) FASTA file, checked for headers; errors name the file and line.

    Sequences are returned as written (case kept); the caller checks their letters.
    An empty file raises :class:`~dnabert.io.InputError`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "FASTA file not found")
    name: str | None = None
    parts: list[str] = []
    header_line = 0
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    yield FastaRecord(name, "".join(parts), header_line)
                words = line[1:].split()
                if not words:
                    raise InputError(path, "empty sequence name", line=line_no, field="header")
                name, parts, header_line = words[0], [], line_no
            elif line:
                if name is None:
                    raise InputError(path, "not FASTA: expected a '>' header line", line=line_no)
                parts.append(line)
    if name is None:
        raise InputError(path, "no sequences in the FASTA file")
    yield FastaRecord(name, "".join(parts), header_line)
