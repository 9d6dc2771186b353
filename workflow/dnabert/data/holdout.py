"""Test intervals kept out of pretraining: the corpus mask and each split's overlap with the corpus.

* :func:`write_test_intervals` merges the test intervals of every task (rows of
  ``test.tsv.gz`` that have coordinates: positives and genomic negatives alike) into
  one sorted BED, ``results/corpus/exclude.bed``, which :func:`dnabert.lm.corpus.build_corpus`
  cuts out of the corpus. Rows without coordinates (shuffles, table tasks) cannot be
  masked; they are counted in the BED's header and the log.
* :func:`corpus_overlap` measures, per split of one task, how many bases of its intervals
  lie in corpus pieces (0 for test when the mask was applied; train and dev may overlap).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dnabert.data.datasets import read_dataset
from dnabert.data.intervals import IntervalIndex, Intervals
from dnabert.data.splits import SPLITS
from dnabert.io import PathLike, atomic_write

log = logging.getLogger(__name__)


def located_intervals(frame: pd.DataFrame) -> Intervals:
    """The intervals of the rows of a dataset split that have coordinates."""
    located = frame[frame["start"].notna()]
    return Intervals(located["chrom"].to_numpy(object), located["start"].to_numpy(np.int64),
                     located["end"].to_numpy(np.int64), name=located["name"].to_numpy(object))  # fmt: skip


def write_test_intervals(tests: Mapping[str, PathLike], out: PathLike) -> dict[str, dict[str, int]]:
    """Merge the test intervals of every task (task -> ``test.tsv.gz``) into one BED; return counts per task."""
    parts: list[Intervals] = []
    counts: dict[str, dict[str, int]] = {}
    for task, path in tests.items():
        frame = read_dataset(path)
        intervals = located_intervals(frame)
        parts.append(intervals)
        counts[task] = {"rows": len(frame), "with_coordinates": len(intervals)}
        if len(intervals) < len(frame):
            log.info("%s: %d of %d test rows have no coordinates (shuffles or table rows): not masked",
                     task, len(frame) - len(intervals), len(frame))
    index = IntervalIndex(Intervals.concat(parts))
    chroms = sorted({c for p in parts for c in np.unique(p.chrom.astype(str)).tolist()})
    with atomic_write(out) as handle:
        handle.write("# test intervals of every task, merged; cut out of the pretraining corpus\n")
        for task, count in counts.items():
            handle.write(f"# {task}: {count['with_coordinates']} of {count['rows']} test rows have coordinates\n")
        for chrom in chroms:
            starts, ends = index.blocks(chrom)
            for start, end in zip(starts.tolist(), ends.tolist()):
                handle.write(f"{chrom}\t{start}\t{end}\n")
    log.info("%d merged test intervals (%d bp) from %d tasks", len(index),
             sum(int((e - s).sum()) for s, e in (index.blocks(c) for c in chroms)), len(tests))
    return counts


def intersection_bases(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> int:
    """Bases in both of two sets of sorted, merged intervals (one chromosome), by a sweep over their ends."""
    positions = np.concatenate([a[0], a[1], b[0], b[1]])
    if positions.size == 0:
        return 0
    steps = np.concatenate([np.ones(a[0].size), -np.ones(a[1].size), np.ones(b[0].size), -np.ones(b[1].size)])
    order = np.lexsort((steps, positions))  # at one position, ends (-1) before starts (+1)
    positions, coverage = positions[order], np.cumsum(steps[order])
    return int(((coverage[:-1] == 2) * np.diff(positions)).sum())


def corpus_overlap(splits: Mapping[str, pd.DataFrame], corpus: PathLike) -> list[dict[str, Any]]:
    """Per split: rows, rows with coordinates, their bases, bases and rows overlapping corpus pieces."""
    from dnabert.lm.corpus import CorpusReader

    names, chrom, start, end = CorpusReader(corpus).spans()
    pieces = IntervalIndex(Intervals(np.asarray(names, dtype=object)[chrom], start, end)) if chrom.size else \
        IntervalIndex()  # fmt: skip
    rows = []
    for split in SPLITS:
        frame = splits[split]
        intervals = located_intervals(frame)
        mine = IntervalIndex(intervals)
        chroms = sorted(set(np.unique(intervals.chrom.astype(str)).tolist())) if len(intervals) else []
        bases = sum(int((e - s).sum()) for s, e in (mine.blocks(c) for c in chroms))
        overlap = sum(intersection_bases(mine.blocks(c), pieces.blocks(c)) for c in chroms)
        rows.append({"split": split, "rows": len(frame), "rows_with_coordinates": len(intervals),
                     "interval_bases": bases, "overlap_bp": overlap,
                     "rows_overlapping": int(pieces.overlaps(intervals).sum()) if len(intervals) else 0})
    return rows
