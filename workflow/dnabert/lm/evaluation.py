"""Task splits in, predictions and metrics out: what fine-tuning and baselines share.

* :func:`read_task` reads ``results/datasets/{task}/{train,dev,test}.tsv.gz``
  (header ``sequence label chrom start end strand name source``) and checks the labels.
* :func:`evaluate` scores class probabilities (:mod:`dnabert.metrics` plus the cross-entropy ``loss``).
* :func:`write_predictions` writes the per-sequence predictions TSV
  (``id row label predicted prob_0 ... prob_{C-1}``).
* :func:`summarise_runs` aggregates per-seed metrics into a task's ``metrics.json``
  (:mod:`dnabert.report.benchmarks` collects those of every task into one table).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, atomic_write, open_text
from dnabert.metrics import aggregate, classification_metrics, collapsed, cross_entropy

log = logging.getLogger(__name__)

SPLIT_NAMES = ("train", "dev", "test")
#: Name of a task's fine-tuned model in tables, by finetune.init.
MODEL_NAMES = {"pretrained": "dnabert", "released": "dnabert_released", "scratch": "bert_scratch"}


@dataclass
class Split:
    """One split of a task dataset: sequences, integer labels and an id per row."""

    sequences: list[str]
    labels: np.ndarray
    ids: list[str]
    path: str

    def __len__(self) -> int:
        return len(self.sequences)


def read_split(path: PathLike) -> Split:
    """Read ``{split}.tsv.gz`` (header ``sequence label chrom start end strand name source``).

    The id of a row is its ``name``, or ``chrom:start-end(strand)``, or ``row<i>``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "dataset split not found")
    sequences: list[str] = []
    labels: list[int] = []
    ids: list[str] = []
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header[:2]) != ("sequence", "label"):
            raise InputError(path, f"expected a header starting 'sequence<TAB>label', got {header!r}", line=1)
        column = {name: i for i, name in enumerate(header)}
        for line, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(path, f"expected {len(header)} columns, got {len(row)}", line=line)
            seq = row[0].strip().upper()
            if not seq:
                raise InputError(path, "empty sequence", line=line, field="sequence")
            try:
                label = int(row[1])
            except ValueError:
                raise InputError(path, f"label must be an integer, got {row[1]!r}", line=line, field="label") from None
            if label < 0:
                raise InputError(path, f"labels must be 0, 1, ...; got {label}", line=line, field="label")
            name = row[column["name"]] if "name" in column else ""
            if not name and row[column.get("chrom", 0)] and "start" in column and row[column["start"]]:
                strand = row[column["strand"]] if "strand" in column else ""
                name = f"{row[column['chrom']]}:{row[column['start']]}-{row[column['end']]}" + (
                    f"({strand})" if strand in "+-" and strand else "")  # fmt: skip
            sequences.append(seq)
            labels.append(label)
            ids.append(name or f"row{line - 2}")
    if not sequences:
        raise InputError(path, "no sequences in the split")
    return Split(sequences, np.asarray(labels, dtype=np.int64), ids, str(path))


def read_task(paths: Mapping[str, PathLike]) -> tuple[dict[str, Split], int]:
    """The train/dev/test splits and the number of classes (largest label + 1, at least 2).

    Every class must occur in train; dev and test must not hold a class unseen in train.
    """
    splits = {name: read_split(paths[name]) for name in SPLIT_NAMES}
    n_classes = max(2, max(int(split.labels.max()) + 1 for split in splits.values()))
    train_counts = np.bincount(splits["train"].labels, minlength=n_classes)
    if (train_counts == 0).any():
        missing = np.flatnonzero(train_counts == 0).tolist()
        raise InputError(paths["train"], f"classes {missing} never occur in train (labels must be 0..C-1)",
                         field="label")  # fmt: skip
    for name in SPLIT_NAMES:
        counts = np.bincount(splits[name].labels, minlength=n_classes)
        log.info("%s: %d sequences, class counts %s", name, len(splits[name]), counts.tolist())
    return splits, n_classes


def evaluate(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Classification metrics plus the cross-entropy ``loss``."""
    result = classification_metrics(labels, probs)
    result["loss"] = cross_entropy(labels, probs)
    return result




def write_predictions(path: PathLike, split: Split, probs: np.ndarray | Mapping[str, np.ndarray]) -> None:
    """``id row label predicted prob_0 .. prob_{C-1}`` per test sequence, as TSV (atomic).

    ``probs`` may map run names (seeds) to probability matrices; a ``run`` column
    then follows ``label`` and the runs' rows follow each other.
    """
    runs = dict(probs) if isinstance(probs, Mapping) else {"": probs}
    several = isinstance(probs, Mapping)
    n_classes = next(iter(runs.values())).shape[1]
    columns = ["id", "row", "label", *(["run"] if several else []), "predicted",
               *(f"prob_{c}" for c in range(n_classes))]  # fmt: skip
    with atomic_write(path) as handle:
        handle.write("\t".join(columns) + "\n")
        for run, matrix in runs.items():
            if matrix.shape[0] != len(split):
                raise ValueError(f"{matrix.shape[0]} probability rows for {len(split)} sequences of {split.path}")
            predicted = matrix.argmax(axis=1)
            for i, name in enumerate(split.ids):
                values = [name, str(i), str(int(split.labels[i])), *([run] if several else []),
                          str(int(predicted[i])), *(f"{p:.6g}" for p in matrix[i])]  # fmt: skip
                handle.write("\t".join(values) + "\n")


# --------------------------------------------------------------------------- aggregation over seeds and models


def summarise_runs(
    runs: Mapping[str, Mapping[str, Any]], *, task: str, model: str, headline: str, **extra: Any
) -> dict[str, Any]:
    """A task's ``metrics.json``: every run's test metrics, their mean, sd and ``mean ± sd`` text.

    ``collapsed`` lists the runs that predict one class for every test sequence; they
    stay in the mean (it is what the recipe gives) but tables and the report flag them.
    """
    summary = aggregate(runs)
    dead = [key for key, value in runs.items() if collapsed(value.get("confusion_matrix"))]
    return {
        "task": task,
        "model": model,
        "headline": headline,
        "headline_value": summary["mean"][headline],
        "headline_text": summary["text"][headline],
        "runs": {key: dict(value) for key, value in runs.items()},
        "collapsed": dead,
        **summary,
        **extra,
    }
