"""Where a variant sits in a model input: the task's window, position and orientation.

A classifier should see a variant in the kind of window it was fine-tuned on.
:class:`VariantWindows` places a variant (0-based position on a chromosome) as a
:class:`Placement`: a genome window ``[start, end)``, the strand it is read on
(``-``: reverse-complemented, REF and ALT complemented with it), the variant's
index in that oriented sequence, and a ``context`` saying how it was placed.
:func:`windows_for_task` builds it from a task's config:

``peaks``      ``window`` bp centred on the variant, ``+`` strand (peak windows are unstranded).
``promoters``  a variant inside a promoter window (``-upstream..+downstream`` of a TSS of the
               task's annotation) is scored in exactly that window, in transcript orientation,
               at its TSS-relative position (``context`` ``tss:<name>``; with several, the nearest
               TSS); elsewhere, a centred window of the promoter width on ``+`` (``centred``).
``splice``     likewise at the donor/acceptor windows of the task's GTF (``splice:<name>``);
               elsewhere centred, on the strand of the gene it lies in (``gene:<id>``, as the
               non-splice training windows are), else ``+``.
``table``      a table carries no coordinates: the window is the length of the task's
               training sequences (their median when they differ), centred, ``+`` strand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnabert.data.intervals import Intervals
from dnabert.io import InputError, PathLike


@dataclass(frozen=True)
class Placement:
    """A variant's model input: window ``[start, end)``, strand, the variant's index in the oriented window."""

    start: int
    end: int
    strand: str
    offset: int
    context: str


@dataclass
class _ChromIndex:
    """Windows of one chromosome sorted by start (all of one width), with their anchor positions."""

    start: np.ndarray
    end: np.ndarray
    strand: np.ndarray
    name: np.ndarray
    anchor: np.ndarray


def _index(intervals: Intervals, anchors: np.ndarray) -> dict[str, _ChromIndex]:
    out = {}
    for chrom, rows in intervals.by_chrom():
        rows = rows[np.argsort(intervals.start[rows], kind="stable")]
        out[chrom] = _ChromIndex(intervals.start[rows], intervals.end[rows], intervals.strand[rows],
                                 intervals.name[rows], np.asarray(anchors)[rows])  # fmt: skip
    return out


@dataclass
class VariantWindows:
    """Places variants in ``width``-bp windows: at the task's sites where one covers them, else centred.

    ``sites``: windows as the task's dataset cut them (all ``width`` bp), with ``anchors``
    (the TSS or splice boundary of each) and ``kind`` naming them in ``context``.
    ``regions``: stranded regions (genes) whose strand a centred window takes.
    """

    width: int
    sites: Intervals | None = None
    anchors: np.ndarray | None = None
    kind: str = "site"
    regions: Intervals | None = None
    _sites: dict[str, _ChromIndex] = field(init=False, repr=False, default_factory=dict)
    _regions: dict[str, _ChromIndex] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.width < 1:
            raise InputError(None, f"must be at least 1, got {self.width}", field="window")
        if self.sites is not None and len(self.sites):
            if not (self.sites.length == self.width).all():
                raise ValueError("every site window must be `width` bp")
            self._sites = _index(self.sites, self.anchors)
        if self.regions is not None and len(self.regions):
            self._regions = _index(self.regions, self.regions.start)

    @property
    def description(self) -> str:
        if self._sites:
            return f"{self.width} bp at the task's {self.kind} windows, else centred"
        return f"{self.width} bp centred"

    def place(self, chrom: str, pos: int) -> Placement:
        """The window of a variant at 0-based ``pos`` (which may run past the chromosome; the caller checks)."""
        sites = self._sites.get(chrom)
        if sites is not None:
            lo = np.searchsorted(sites.start, pos - self.width, side="right")
            hi = np.searchsorted(sites.start, pos, side="right")
            if hi > lo:
                best = lo + int(np.argmin(np.abs(sites.anchor[lo:hi] - pos)))
                start, end, strand = int(sites.start[best]), int(sites.end[best]), str(sites.strand[best])
                offset = pos - start if strand != "-" else end - 1 - pos
                return Placement(start, end, strand, offset, f"{self.kind}:{sites.name[best]}")
        start = pos - self.width // 2
        strand, context = "+", "centred"
        regions = self._regions.get(chrom)
        if regions is not None:
            inside = np.flatnonzero((regions.start <= pos) & (pos < regions.end))
            if inside.size:
                strand, context = str(regions.strand[inside[0]]), f"gene:{regions.name[inside[0]]}"
        offset = self.width // 2 if strand != "-" else self.width - 1 - self.width // 2
        return Placement(start, start + self.width, strand, offset, context)


def centred(width: int) -> VariantWindows:
    """``width`` bp centred on the variant, ``+`` strand (the variant at index ``width // 2``)."""
    return VariantWindows(int(width))


def promoter_placement(annotation: PathLike, fmt: str, upstream: int, downstream: int) -> VariantWindows:
    """Promoter windows (``-upstream..+downstream``, transcript orientation) of the TSSs of a GTF or TSS BED."""
    from dnabert.data.annotation import promoter_windows, tss_from_bed, tss_from_gtf

    tss = tss_from_gtf(annotation) if fmt == "gtf" else tss_from_bed(annotation)
    return VariantWindows(upstream + downstream + 1, promoter_windows(tss, upstream, downstream), tss.pos, "tss")


def splice_placement(annotation: PathLike, width: int) -> VariantWindows:
    """Donor and acceptor windows of a GTF's multi-exon transcripts; genes give centred windows their strand."""
    from dnabert.data.annotation import boundary_windows, gene_spans, read_gtf_transcripts, splice_sites

    transcripts = read_gtf_transcripts(annotation)
    donors, acceptors = splice_sites(transcripts)
    windows = Intervals.concat([boundary_windows(donors, width), boundary_windows(acceptors, width)])
    windows.name = np.concatenate([[f"donor|{n}" for n in donors.name], [f"acceptor|{n}" for n in acceptors.name]]
                                  ).astype(object)  # fmt: skip
    anchors = np.concatenate([donors.pos, acceptors.pos])
    return VariantWindows(width, windows, anchors, "splice", regions=gene_spans(transcripts))


def table_width(train_split: PathLike) -> int:
    """The window of a table task: its training sequences' length (the median when they differ)."""
    from dnabert.lm.evaluation import read_split

    lengths = np.array([len(s) for s in read_split(train_split).sequences])
    if lengths.size == 0:
        raise InputError(train_split, "no training sequences")
    return int(np.median(lengths))


def windows_for_task(task: Mapping[str, Any], files: Mapping[str, PathLike]) -> VariantWindows:
    """The placement of a task (its ``tasks:`` config, schema defaults filled in); see the module docstring.

    ``files``: ``annotation`` for promoters and splice tasks, ``train`` (its training split) for tables.
    """
    kind = task["type"]
    if kind == "peaks":
        return centred(task.get("window", 101))
    if kind == "promoters":
        return promoter_placement(files["annotation"], task.get("format", "gtf"), task.get("upstream", 249),
                                  task.get("downstream", 50))  # fmt: skip
    if kind == "splice":
        return splice_placement(files["annotation"], task.get("window", 400))
    if kind == "table":
        return centred(table_width(files["train"]))
    raise ValueError(f"unknown task type {kind!r}")
