"""ChIP-seq peaks: strict narrowPeak and BED parsing, chromosome checks, selection, summit windows.

narrowPeak (ENCODE, 0-based half-open) has exactly 10 tab-separated columns:
chrom, start, end, name, score, strand, signalValue, pValue, qValue, peak,
where ``peak`` is the summit offset from ``start`` and -1 means no summit (the
midpoint is used). ``#``, ``track`` and ``browser`` lines are skipped.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dnabert.data.intervals import Intervals, centred_windows
from dnabert.io import InputError, PathLike, bed_lines

log = logging.getLogger(__name__)

NARROWPEAK_COLUMNS = (
    "chrom", "start", "end", "name", "score", "strand", "signalValue", "pValue", "qValue", "peak",
)
STRANDS = ("+", "-", ".")


@dataclass
class Peaks:
    """Parsed peaks: intervals, summit positions (absolute), scores and source line numbers."""

    intervals: Intervals
    summit: np.ndarray
    signal: np.ndarray
    qvalue: np.ndarray
    line: np.ndarray
    path: str

    def __len__(self) -> int:
        return len(self.intervals)

    def take(self, index: np.ndarray) -> Peaks:
        return Peaks(
            self.intervals.take(index), self.summit[index], self.signal[index], self.qvalue[index],
            self.line[index], self.path,
        )


def _int(path: PathLike, text: str, line: int, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(path, f"not an integer: {text!r}", line=line, field=field) from None


def _float(path: PathLike, text: str, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"not a number: {text!r}", line=line, field=field) from None
    if math.isnan(value):
        raise InputError(path, "not a number: 'nan'", line=line, field=field)
    return value


def _check_interval(path: PathLike, chrom: str, start: int, end: int, line: int) -> None:
    if not chrom:
        raise InputError(path, "empty chromosome name", line=line, field="chrom")
    if start < 0:
        raise InputError(path, f"negative start {start}", line=line, field="start")
    if end <= start:
        raise InputError(path, f"end {end} is not after start {start}", line=line, field="end")


def _rows(path: PathLike, widths: range, expected: str) -> Iterator[tuple[int, list[str], int, int]]:
    """Data lines as ``(line, fields, start, end)``, with the column count and the interval checked."""
    for line_no, line in bed_lines(path):
        fields = line.split("\t")
        if len(fields) not in widths:
            raise InputError(path, f"expected {expected}, got {len(fields)}", line=line_no)
        start = _int(path, fields[1], line_no, "start")
        end = _int(path, fields[2], line_no, "end")
        _check_interval(path, fields[0], start, end, line_no)
        yield line_no, fields, start, end


class _PeakColumns:
    """The parsed peaks, a list per column, until :meth:`peaks` makes them :class:`Peaks`."""

    NAMES = ("chrom", "start", "end", "name", "strand", "summit", "signal", "qvalue", "line")

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in self.NAMES}

    def add(self, **row) -> None:
        for name in self.NAMES:
            self.columns[name].append(row[name])

    def peaks(self, path: PathLike) -> Peaks:
        c = self.columns
        if not c["chrom"]:
            raise InputError(path, "no peaks: the file has no data lines")
        intervals = Intervals(np.array(c["chrom"], dtype=object), np.array(c["start"]), np.array(c["end"]),
                              np.array(c["strand"]), np.array(c["name"], dtype=object))  # fmt: skip
        return Peaks(intervals, np.array(c["summit"], dtype=np.int64), np.array(c["signal"], dtype=float),
                     np.array(c["qvalue"], dtype=float), np.array(c["line"], dtype=np.int64), str(path))  # fmt: skip


def read_narrowpeak(path: PathLike) -> Peaks:
    """Parse a (gzipped) narrowPeak file strictly; errors name the file, line and column."""
    peaks = _PeakColumns()
    for line_no, fields, s, e in _rows(path, range(10, 11), "10 tab-separated narrowPeak columns"):
        if _int(path, fields[4], line_no, "score") < 0:
            raise InputError(path, f"negative score {fields[4]}", line=line_no, field="score")
        if fields[5] not in STRANDS:
            raise InputError(path, f"strand must be +, - or ., got {fields[5]!r}", line=line_no, field="strand")
        signal = _float(path, fields[6], line_no, "signalValue")
        _float(path, fields[7], line_no, "pValue")
        qvalue = _float(path, fields[8], line_no, "qValue")
        offset = _int(path, fields[9], line_no, "peak")
        if offset < -1 or offset >= e - s:
            raise InputError(path, f"summit offset {offset} is outside the peak (0..{e - s - 1}, or -1 for none)",
                             line=line_no, field="peak")  # fmt: skip
        summit = s + offset if offset >= 0 else (s + e) // 2
        peaks.add(chrom=fields[0], start=s, end=e, name=fields[3], strand=fields[5], summit=summit, signal=signal,
                  qvalue=qvalue, line=line_no)  # fmt: skip
    return peaks.peaks(path)


def read_bed_peaks(path: PathLike) -> Peaks:
    """Parse a BED3+ file as peaks: summit = midpoint, signal = score column where numeric."""
    peaks = _PeakColumns()
    for line_no, fields, s, e in _rows(path, range(3, sys.maxsize), "at least 3 tab-separated BED columns"):
        strand = fields[5] if len(fields) > 5 and fields[5] else "."
        if strand not in STRANDS:
            raise InputError(path, f"strand must be +, - or ., got {strand!r}", line=line_no, field="strand")
        score = fields[4] if len(fields) > 4 else ""
        try:
            signal = float(score) if score else 0.0
        except ValueError:
            raise InputError(path, f"not a number: {score!r}", line=line_no, field="score") from None
        peaks.add(chrom=fields[0], start=s, end=e, name=fields[3] if len(fields) > 3 else "", strand=strand,
                  summit=(s + e) // 2, signal=signal, qvalue=-1.0, line=line_no)  # fmt: skip
    return peaks.peaks(path)


def read_peaks(path: PathLike, fmt: str = "narrowPeak") -> Peaks:
    """Read peaks in ``fmt`` ('narrowPeak' or 'bed')."""
    if fmt == "narrowPeak":
        return read_narrowpeak(path)
    if fmt == "bed":
        return read_bed_peaks(path)
    raise ValueError(f"unknown peak format {fmt!r}; use narrowPeak or bed")


def chromosome_hint(absent: list[str], genome: list[str]) -> str:
    """A hint when absent names match genome names up to a 'chr' prefix (e.g. '1' vs 'chr1')."""
    known = set(genome)
    pairs = []
    for name in absent:
        other = name[3:] if name.startswith("chr") else f"chr{name}"
        if other in known:
            pairs.append(f"{name!r} vs {other!r}")
    if not pairs:
        return ""
    return (f"; names differ from the genome's only by a 'chr' prefix ({', '.join(pairs[:3])}): "
            "use peaks and genome from the same naming convention (UCSC 'chr1' or Ensembl '1')")


def on_genome(peaks: Peaks, sizes: dict[str, int]) -> Peaks:
    """Keep peaks on chromosomes of the genome; count and report the others.

    Raises :class:`InputError` when none is left, with a hint on ``chr`` prefixes.
    """
    present = np.array([c in sizes for c in peaks.intervals.chrom], dtype=bool)
    if present.all():
        return peaks
    absent, counts = np.unique(peaks.intervals.chrom[~present].astype(str), return_counts=True)
    listing = ", ".join(f"{a} ({n})" for a, n in zip(absent[:10].tolist(), counts[:10].tolist()))
    hint = chromosome_hint(absent.tolist(), list(sizes))
    if not present.any():
        first = int(peaks.line[0])
        raise InputError(
            peaks.path,
            f"no peak is on a chromosome of the genome ({len(absent)} chromosomes absent: {listing}; "
            f"genome has {', '.join(list(sizes)[:5])}{' ...' if len(sizes) > 5 else ''}){hint}",
            line=first, field="chrom",
        )
    log.warning("%s: %d of %d peaks are on %d chromosomes absent from the genome, dropped: %s%s",
                peaks.path, int((~present).sum()), len(peaks), len(absent), listing, hint)
    return peaks.take(present)


def select_peaks(peaks: Peaks, top: int | None = None, min_qvalue: float | None = None) -> Peaks:
    """Merge duplicate peaks (same chrom/start/end: the strongest summit is kept), then filter.

    ``min_qvalue`` keeps peaks with -log10 q >= the threshold; ``top`` keeps the
    strongest ``top`` peaks by signalValue (ties in file order).
    """
    order = np.lexsort((peaks.line, -peaks.signal))  # strongest first, then file order
    peaks = peaks.take(order)
    iv = peaks.intervals
    keys = np.array([f"{c}\t{s}\t{e}" for c, s, e in zip(iv.chrom, iv.start.tolist(), iv.end.tolist())])
    _, first = np.unique(keys, return_index=True)
    if len(first) < len(peaks):
        log.info("%s: merged %d duplicate peaks (same interval)", peaks.path, len(peaks) - len(first))
    peaks = peaks.take(np.sort(first))
    if min_qvalue is not None:
        if (peaks.qvalue < 0).all():
            raise InputError(peaks.path, "min_qvalue is set but the file has no qValues (all -1)", field="qValue")
        keep = peaks.qvalue >= min_qvalue
        log.info("%s: %d of %d peaks pass qValue >= %g", peaks.path, int(keep.sum()), len(peaks), min_qvalue)
        peaks = peaks.take(keep)
    if top is not None and len(peaks) > top:
        peaks = peaks.take(np.arange(top))
    if len(peaks) == 0:
        raise InputError(peaks.path, "no peak passes the selection (top/min_qvalue)")
    return peaks


def summit_windows(peaks: Peaks, width: int) -> Intervals:
    """Windows of ``width`` bp centred on each summit, identical windows kept once, in genome order."""
    iv = peaks.intervals
    names = np.array([n if n not in ("", ".") else f"{c}:{s}-{e}" for n, c, s, e in
                      zip(iv.name, iv.chrom, iv.start.tolist(), iv.end.tolist())], dtype=object)
    windows = centred_windows(iv.chrom, peaks.summit, width, strand=iv.strand, name=names)
    keys = np.array([f"{c}\t{s}" for c, s in zip(windows.chrom, windows.start.tolist())])
    _, first = np.unique(keys, return_index=True)
    return windows.take(np.sort(first))
