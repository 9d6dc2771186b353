"""Normalise a genome to bgzipped FASTA with .fai/.gzi and chrom.sizes; prepare BED masks.

Input FASTA may be plain, gzip or BGZF. It is validated while streaming (line
numbers in errors), optionally filtered to a chromosome list or by an exclusion
regex, re-wrapped at a fixed width and written as BGZF, then indexed with pysam.
Soft-masking (lower case) is kept; IUPAC ambiguity codes other than N become N.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from dnabert.io import InputError, PathLike, atomic_write, bed_lines, open_binary, open_text, temp_dir_for

log = logging.getLogger(__name__)

LINE_WIDTH = 60
# Bytes allowed in sequence lines; ambiguity codes other than N are mapped to N.
_AMBIGUOUS = b"RYKMSWBDHVrykmswbdhv"
_TO_N = bytes.maketrans(_AMBIGUOUS, b"N" * 10 + b"n" * 10)
_VALID = set(b"ACGTNacgtn" + _AMBIGUOUS)
# hg38/mm10 chromosomes that are not part of the primary assembly, or are mitochondrial.
DEFAULT_EXCLUDE = r"(_alt|_random|_fix|_hap\d*)$|^chrUn|^chrM$|^chrEBV$"


@dataclass(frozen=True)
class ChromosomeFilter:
    """Which chromosomes to keep: an explicit list, and/or an exclusion regex."""

    include: tuple[str, ...] | None = None
    exclude_regex: str | None = None

    def keeps(self, name: str) -> bool:
        if self.include is not None and name not in self.include:
            return False
        return not (self.exclude_regex and re.search(self.exclude_regex, name))


def _fasta_records(path: PathLike) -> Iterator[tuple[str, int, Iterator[bytes]]]:
    """Yield ``(name, header_line, sequence_lines)`` per record, validating as it goes.

    ``sequence_lines`` must be consumed before the next record is requested.
    """
    with open_binary(path) as handle:
        pending: tuple[str, int] | None = None
        line_no = 0
        seen: set[str] = set()

        def lines() -> Iterator[bytes]:
            nonlocal line_no, pending
            for raw in handle:
                line_no += 1
                line = raw.rstrip(b"\r\n")
                if line.startswith(b">"):
                    pending = (_header_name(path, line, line_no), line_no)
                    return
                if line.startswith(b";") or not line.strip():
                    continue
                bad = set(line) - _VALID
                if bad:
                    column = next(i for i, b in enumerate(line) if b in bad) + 1
                    byte = line[column - 1]
                    what = f"non-ASCII byte 0x{byte:02x}" if byte > 127 else f"invalid base {chr(byte)!r}"
                    raise InputError(path, f"{what} at column {column}", line=line_no, field="sequence")
                yield line.translate(_TO_N)
            pending = None

        # Skip to the first header.
        for raw in handle:
            line_no += 1
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            if not line.startswith(b">"):
                raise InputError(path, "not FASTA: expected a '>' header line", line=line_no)
            pending = (_header_name(path, line, line_no), line_no)
            break
        while pending is not None:
            name, header_line = pending
            if name in seen:
                raise InputError(path, f"duplicate sequence name {name!r}", line=header_line, field="header")
            seen.add(name)
            pending = None
            yield name, header_line, lines()


def _header_name(path: PathLike, line: bytes, line_no: int) -> str:
    if not line.isascii():
        column = next(i for i, byte in enumerate(line) if byte > 127) + 1
        raise InputError(path, f"non-ASCII byte 0x{line[column - 1]:02x} at column {column}: sequence names "
                               "must be ASCII", line=line_no, field="header")  # fmt: skip
    parts = line[1:].split()
    if not parts:
        raise InputError(path, "empty sequence name", line=line_no, field="header")
    return parts[0].decode("ascii")


def _rewrap(lines: Iterable[bytes], width: int) -> Iterator[bytes]:
    """Re-chunk a stream of sequence lines into lines of exactly ``width`` (last may be shorter)."""
    buffer = bytearray()
    for line in lines:
        buffer += line
        if len(buffer) >= width * 1024:
            cut = len(buffer) - len(buffer) % width
            for start in range(0, cut, width):
                yield bytes(buffer[start : start + width])
            del buffer[:cut]
    for start in range(0, len(buffer), width):
        yield bytes(buffer[start : start + width])


def normalise_fasta(
    source: PathLike,
    dest: PathLike,
    keep: ChromosomeFilter = ChromosomeFilter(),
    line_width: int = LINE_WIDTH,
) -> list[tuple[str, int]]:
    """Write ``source`` as BGZF FASTA at ``dest`` with ``.fai`` and ``.gzi``; return kept lengths.

    All three files appear together only on success.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    kept: list[tuple[str, int]] = []
    skipped: list[str] = []
    with temp_dir_for(dest) as tmp_dir:
        tmp = tmp_dir / dest.name
        out = pysam.BGZFile(str(tmp), "wb")
        try:
            for name, header_line, lines in _fasta_records(source):
                if not keep.keeps(name):
                    skipped.append(name)
                    for _ in lines:
                        pass
                    continue
                out.write(f">{name}\n".encode())
                length = 0
                for chunk in _rewrap(lines, line_width):
                    out.write(chunk + b"\n")
                    length += len(chunk)
                if length == 0:
                    raise InputError(source, f"sequence {name!r} is empty", line=header_line, field="sequence")
                kept.append((name, length))
        finally:
            out.close()
        if not kept:
            raise InputError(
                source,
                f"no sequences left after chromosome filtering ({keep}); "
                f"the file has: {', '.join(skipped[:10]) or 'no sequences'}",
            )
        absent = sorted(set(keep.include or ()) - {name for name, _ in kept})
        if absent:
            raise InputError(source, f"chromosomes to include are not in the file: {', '.join(absent)}")
        pysam.faidx(str(tmp))
        os.replace(tmp, dest)
        for suffix in (".fai", ".gzi"):
            os.replace(f"{tmp}{suffix}", f"{dest}{suffix}")
    log.info("kept %d sequences (%d bp); skipped %d: %s", len(kept), sum(n for _, n in kept),
             len(skipped), ", ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    return kept


def write_chrom_sizes(lengths: Sequence[tuple[str, int]], dest: PathLike) -> None:
    """Write a UCSC-style ``chrom.sizes`` (name, length; tab-separated)."""
    with atomic_write(dest) as out:
        for name, length in lengths:
            out.write(f"{name}\t{length}\n")


def read_chrom_sizes(path: PathLike) -> dict[str, int]:
    """Read ``chrom.sizes`` into an ordered mapping, validating every line."""
    sizes: dict[str, int] = {}
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise InputError(path, "expected 'name<TAB>length'", line=line_no)
            try:
                sizes[fields[0]] = int(fields[1])
            except ValueError:
                raise InputError(path, f"not an integer: {fields[1]!r}", line=line_no, field="length") from None
    return sizes


def read_bed_intervals(path: PathLike) -> Iterator[tuple[int, str, int, int]]:
    """Yield ``(line_no, chrom, start, end)`` from a BED file, validating coordinates.

    ``track``, ``browser`` and ``#`` lines are skipped; coordinates are 0-based half-open.
    """
    for line_no, line in bed_lines(path):
        fields = line.split("\t")
        if len(fields) < 3:
            raise InputError(path, f"expected at least 3 tab-separated columns, got {len(fields)}", line=line_no)
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            field = "start" if not fields[1].lstrip("-").isdigit() else "end"
            raise InputError(path, "not an integer", line=line_no, field=field) from None
        if start < 0:
            raise InputError(path, f"negative start {start}", line=line_no, field="start")
        if end <= start:
            raise InputError(path, f"end {end} is not after start {start}", line=line_no, field="end")
        yield line_no, fields[0], start, end


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals on one chromosome (vectorised)."""
    if len(starts) == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    running_end = np.maximum.accumulate(ends)
    new_block = np.ones(len(starts), dtype=bool)
    new_block[1:] = starts[1:] > running_end[:-1]
    block = np.cumsum(new_block) - 1
    merged_starts = starts[new_block]
    merged_ends = np.zeros(len(merged_starts), dtype=ends.dtype)
    np.maximum.at(merged_ends, block, ends)
    return merged_starts, merged_ends


def prepare_bed_mask(source: PathLike, dest: PathLike, chrom_sizes: dict[str, int]) -> int:
    """Sort, clip and merge a BED mask (e.g. the ENCODE blacklist) to the genome; write BED3.gz.

    Records on chromosomes absent from the genome are dropped and counted in the log.
    Returns the number of merged intervals written.
    """
    per_chrom: dict[str, list[tuple[int, int]]] = {name: [] for name in chrom_sizes}
    missing: dict[str, int] = {}
    for _line_no, chrom, start, end in read_bed_intervals(source):
        if chrom not in per_chrom:
            missing[chrom] = missing.get(chrom, 0) + 1
            continue
        size = chrom_sizes[chrom]
        if start < size:
            per_chrom[chrom].append((start, min(end, size)))
    if missing:
        log.info("%s: dropped %d intervals on %d chromosomes not in the genome (%s)", source,
                 sum(missing.values()), len(missing), ", ".join(sorted(missing)[:10]))
    written = 0
    with atomic_write(dest, gzip_level=6) as out:
        for chrom, intervals in per_chrom.items():
            if not intervals:
                continue
            array = np.asarray(intervals, dtype=np.int64)
            starts, ends = merge_intervals(array[:, 0], array[:, 1])
            for start, end in zip(starts.tolist(), ends.tolist()):
                out.write(f"{chrom}\t{start}\t{end}\n")
            written += len(starts)
    return written
