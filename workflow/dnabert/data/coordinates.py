"""Coordinate tasks: labelled genome intervals, read from Genomic Benchmarks CSVs or BED, cut from the genome.

* Genomic Benchmarks CSV (``format: csv``): header ``id,region,start,end,strand``,
  one file per class and split (``{dataset}/{train,test}/{class}.csv.gz``); every row
  of a file has the file's class.
* BED (``format: bed``): ``chrom start end [name [score [strand]]] label``, that is
  BED3 to BED6 with the label as the last column; or, with ``class:`` for the whole
  file, any BED3 to BED6 without one.

Coordinates are 0-based half-open; strand ``-`` is reverse-complemented, ``+``, ``.``
or empty is read as ``+``. Labels come from the class names (:func:`class_labels`):
the config's ``classes:`` order, else the sorted names; names that are all integers
are the labels themselves. Errors name the file, line and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dnabert.config.coordinates import coordinate_format as infer_format  # noqa: F401 (used by tasks)
from dnabert.data.intervals import Intervals
from dnabert.data.tables import check_labels
from dnabert.io import InputError, PathLike, bed_lines, open_text

FORMATS = ("csv", "bed")
CSV_HEADER = ["id", "region", "start", "end", "strand"]


@dataclass
class Regions:
    """Labelled intervals of one file: the class name, id and source line of each row."""

    intervals: Intervals
    classes: np.ndarray
    ids: np.ndarray
    lines: np.ndarray
    path: str

    def __len__(self) -> int:
        return len(self.intervals)


def _coordinates(path: PathLike, fields: Sequence[str], line: int, names: Sequence[str]) -> tuple[int, int]:
    """Start and end (0-based half-open) from two text fields, checked."""
    values = []
    for text, field in zip(fields, names):
        try:
            values.append(int(text))
        except ValueError:
            raise InputError(path, f"not an integer: {text!r}", line=line, field=field) from None
    start, end = values
    if start < 0:
        raise InputError(path, f"negative start {start}", line=line, field=names[0])
    if end <= start:
        raise InputError(path, f"end {end} is not after start {start}", line=line, field=names[1])
    return start, end


def _strand(path: PathLike, text: str, line: int) -> str:
    if text in ("", "+", "."):
        return "+"
    if text == "-":
        return "-"
    raise InputError(path, f"strand must be +, - or empty, got {text!r}", line=line, field="strand")


def _regions(path: PathLike, rows: list[tuple], what: str) -> Regions:
    if not rows:
        raise InputError(path, f"no {what}: the file has no data lines")
    chrom, start, end, strand, cls, ids, lines = zip(*rows)
    return Regions(Intervals(np.array(chrom, dtype=object), np.array(start), np.array(end), np.array(strand)),
                   np.array(cls, dtype=object), np.array(ids, dtype=object), np.array(lines, dtype=np.int64),
                   str(path))


def read_benchmark_csv(path: PathLike, class_name: str) -> Regions:
    """A Genomic Benchmarks coordinate CSV (``id,region,start,end,strand``); every row is ``class_name``."""
    rows = []
    with open_text(path) as handle:
        header = handle.readline().rstrip("\r\n")
        if header.split(",") != CSV_HEADER:
            raise InputError(path, f"expected the header '{','.join(CSV_HEADER)}', got {header[:60]!r}", line=1)
        for line_no, line in enumerate(handle, 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split(",")
            if len(fields) != len(CSV_HEADER):
                raise InputError(path, f"expected {len(CSV_HEADER)} comma-separated columns, got {len(fields)}",
                                 line=line_no)  # fmt: skip
            if not fields[1]:
                raise InputError(path, "empty region (chromosome) name", line=line_no, field="region")
            start, end = _coordinates(path, fields[2:4], line_no, ("start", "end"))
            strand = _strand(path, fields[4].strip(), line_no)
            rows.append((fields[1], start, end, strand, class_name, fields[0] or f"{fields[1]}:{start}-{end}",
                         line_no))
    return _regions(path, rows, "regions")


def read_labelled_bed(path: PathLike, class_name: str | None = None) -> Regions:
    """A BED3-BED6 file whose last column is the label, or, with ``class_name``, whose rows all have that class."""
    rows = []
    for line_no, line in bed_lines(path):
        fields = line.split("\t")
        bed = fields if class_name is not None else fields[:-1]
        if not 3 <= len(bed) <= 6:
            need = "3 to 6 BED columns" + ("" if class_name is not None else " and a label column")
            raise InputError(path, f"expected {need} (tab-separated), got {len(fields)} columns", line=line_no)
        if not bed[0]:
            raise InputError(path, "empty chromosome name", line=line_no, field="chrom")
        start, end = _coordinates(path, bed[1:3], line_no, ("start", "end"))
        strand = _strand(path, bed[5] if len(bed) == 6 else "", line_no)
        label = class_name if class_name is not None else fields[-1].strip()
        if not label:
            raise InputError(path, "empty label", line=line_no, field="label")
        name = bed[3] if len(bed) > 3 and bed[3] not in ("", ".") else f"{bed[0]}:{start}-{end}"
        rows.append((bed[0], start, end, strand, label, name, line_no))
    return _regions(path, rows, "intervals")


def read_regions(path: PathLike, fmt: str, class_name: str | None = None) -> Regions:
    """One coordinate file in ``fmt`` (see :data:`FORMATS`); CSV files need ``class_name``."""
    if fmt == "csv":
        if class_name is None:
            raise InputError(path, "a Genomic Benchmarks CSV needs its class (class:)", field="class")
        return read_benchmark_csv(path, class_name)
    if fmt == "bed":
        return read_labelled_bed(path, class_name)
    raise ValueError(f"unknown coordinate format {fmt!r}; use one of {', '.join(FORMATS)}")


def check_in_genome(regions: Regions, sizes: dict[str, int], genome: PathLike) -> None:
    """Every interval lies on a chromosome of the genome and inside it, or an InputError names the first that does not."""
    length = np.array([sizes.get(c, -1) for c in regions.intervals.chrom], dtype=np.int64)
    absent = length < 0
    if absent.any():
        row = int(np.flatnonzero(absent)[0])
        names = list(sizes)
        raise InputError(regions.path, f"{regions.intervals.chrom[row]!r} is not a sequence of the genome {genome} "
                                       f"({int(absent.sum())} of {len(regions)} rows; the genome has "
                                       f"{', '.join(names[:6])}{' ...' if len(names) > 6 else ''})",
                         line=int(regions.lines[row]), field="chrom")  # fmt: skip
    past = regions.intervals.end > length
    if past.any():
        row = int(np.flatnonzero(past)[0])
        chrom = regions.intervals.chrom[row]
        raise InputError(regions.path, f"end {int(regions.intervals.end[row])} is past the end of {chrom} "
                                       f"({int(length[row]):,} bp in {genome}; {int(past.sum())} of {len(regions)} "
                                       "rows are)", line=int(regions.lines[row]), field="end")  # fmt: skip


def class_labels(files: Sequence[Regions], classes: Sequence[str] | None, field: str = "classes") -> dict[str, int]:
    """Class name -> label: the order of ``classes``, else sorted names (integer names map to themselves).

    Raises an InputError naming the file and line of a name that ``classes`` lacks (or
    ``field`` for a listed class no file has), and when fewer than two classes, or
    integer labels with a gap, are found.
    """
    first: dict[str, tuple[str, int]] = {}
    for regions in files:
        for name, line in zip(regions.classes.tolist(), regions.lines.tolist()):
            first.setdefault(name, (regions.path, line))
    if classes is not None:
        order = [str(c) for c in classes]
        for name, (path, line) in first.items():
            if name not in order:
                raise InputError(path, f"class {name!r} is not in the task's classes: {', '.join(order)}",
                                 line=line, field="label")  # fmt: skip
        unused = [name for name in order if name not in first]
        if unused:
            raise InputError(None, f"classes {', '.join(unused)} occur in no file of the task", field=field)
    if len(first) < 2:
        path, _ = next(iter(first.values()))
        where = "the file" if len(files) == 1 else f"all {len(files)} files of the task"
        raise InputError(path, f"only one class ({next(iter(first))!r}) in {where}: a classifier needs at least two",
                         field="label")  # fmt: skip
    if classes is None and all(name.isdigit() for name in first):
        check_labels({int(name): where for name, where in first.items()}, len(files))
        return {name: int(name) for name in first}
    if classes is None:
        order = sorted(first)
    return {name: i for i, name in enumerate(order)}
