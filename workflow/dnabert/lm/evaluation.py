"""Task splits in, predictions and metrics out: what fine-tuning and baselines share.

* :func:`read_task` reads ``results/datasets/{task}/{train,dev,test}.tsv.gz``
  (header ``sequence label chrom start end strand name source``) and checks the labels.
* :func:`evaluate` scores class probabilities (:mod:`dnabert.metrics` plus the cross-entropy ``loss``).
* :func:`write_predictions` writes the per-sequence predictions TSV
  (``id row label predicted prob_0 ... prob_{C-1}``).
* :func:`summarise_runs` aggregates per-seed metrics into a task's ``metrics.json``;
  :func:`benchmark_table` collects every model and baseline of every task into one table.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, atomic_write, open_text, read_json
from dnabert.metrics import SCALAR_METRICS, aggregate, classification_metrics, cross_entropy

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
    """A task's ``metrics.json``: every run's test metrics, and their mean, sd and ``mean ± sd`` text."""
    summary = aggregate(runs)
    return {
        "task": task,
        "model": model,
        "headline": headline,
        "headline_value": summary["mean"][headline],
        "headline_text": summary["text"][headline],
        "runs": {key: dict(value) for key, value in runs.items()},
        **summary,
        **extra,
    }




TABLE_COLUMNS = ("task", "model", "runs", "headline", *(f"{m}_{s}" for m in SCALAR_METRICS for s in ("mean", "sd")))


def benchmark_table(files: Sequence[PathLike]) -> list[dict[str, Any]]:
    """One row per (task, model) from aggregated ``metrics.json`` files, in the order given."""
    rows = []
    for path in files:
        data = read_json(path)
        missing = [key for key in ("task", "model", "mean", "sd", "runs") if key not in data]
        if missing:
            raise InputError(path, f"not an aggregated metrics file (missing {', '.join(missing)})")
        row: dict[str, Any] = {"task": data["task"], "model": data["model"], "runs": len(data["runs"]),
                               "headline": data.get("headline", "mcc")}  # fmt: skip
        for metric in SCALAR_METRICS:
            row[f"{metric}_mean"] = data["mean"].get(metric)
            row[f"{metric}_sd"] = data["sd"].get(metric)
        rows.append(row)
    return rows


def write_table(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """The benchmark table as TSV (blank for undefined values), written atomically."""
    with atomic_write(path) as handle:
        handle.write("\t".join(TABLE_COLUMNS) + "\n")
        for row in rows:
            cells = []
            for key in TABLE_COLUMNS:
                value = row.get(key)
                cells.append("" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value)))
            handle.write("\t".join(cells) + "\n")


def plot_table(path: PathLike, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("mcc", "auroc")) -> None:
    """Grouped bars (mean ± sd over seeds) of each model per task, one panel per metric, as a PNG."""
    from dnabert.plots import PALETTE, figure, save

    tasks = list(dict.fromkeys(row["task"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    fig, axes = figure(1, len(metrics), figsize=(max(5.0, 1.2 * len(tasks) * len(metrics) + 3), 3.8),
                       squeeze=False, constrained_layout=True)  # fmt: skip
    width = 0.8 / max(len(models), 1)
    lookup = {(row["task"], row["model"]): row for row in rows}
    colours = {model: PALETTE.get("bert" if model.startswith(("dnabert", "bert")) else model) for model in models}
    for ax, metric in zip(axes[0], metrics):
        for i, model in enumerate(models):
            x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
            values = [lookup.get((task, model), {}).get(f"{metric}_mean") for task in tasks]
            errors = [lookup.get((task, model), {}).get(f"{metric}_sd") for task in tasks]
            ax.bar(x, [np.nan if v is None else v for v in values], width, color=colours[model],
                   yerr=[0 if e is None else e for e in errors], capsize=2, label=model)  # fmt: skip
        ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30, ha="right")
        ax.set_xlabel("task")
        ax.set_ylabel(f"test {metric.upper()} (mean ± sd over seeds)")
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
        ax.axhline(0.5 if metric == "auroc" else 0.0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{metric.upper()} (dashed: chance)")
    axes[0][-1].legend(title="model", fontsize=8, loc="lower right")
    save(fig, path)
