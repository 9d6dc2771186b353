"""Label efficiency: models trained on seeded, stratified subsets of a task's training split.

DNABERT's case is that pretraining helps most when labelled data is scarce. With
``finetune.train_fractions`` each model (the fine-tuned BERT, ``bert_scratch``, the
baselines) is trained on a fraction of the training split, one subset per seed, and
scored on the same dev and test splits:

* :func:`subset_rows` picks the subset: within each class, ``max(1, round(fraction x n))``
  rows drawn without replacement (every class stays in train), kept in their order;
  :func:`write_train_subset` writes it as a ``train.tsv.gz`` (the split's own lines).
* :func:`curve_point` aggregates one (task, model, fraction) over seeds (test metrics,
  mean ± sd, collapsed runs, training sequences) into its ``metrics.json``.
* :func:`curve_table` / :func:`write_curve_table` gather every point into
  ``results/learning_curve/summary.tsv``; :func:`plot_curves` draws test MCC (the
  headline metric) against the number of training sequences, one panel per task.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, atomic_path, open_text, read_json, write_table_rows
from dnabert.lm.evaluation import summarise_runs
from dnabert.metrics import SCALAR_METRICS

log = logging.getLogger(__name__)

CURVE_COLUMNS = ("task", "model", "fraction", "train_sequences", "runs", "collapsed", "headline",
                 *(f"{m}_{s}" for m in SCALAR_METRICS for s in ("mean", "sd")))  # fmt: skip


def subset_rng(seed: int, task: str, fraction: float) -> np.random.Generator:
    """The random stream of one subset: its seed, task and fraction."""
    return np.random.default_rng([seed, zlib.crc32(task.encode()), zlib.crc32(f"train_fraction {fraction:g}".encode())])


def subset_rows(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices of a stratified subset: per class ``max(1, round(fraction x count))`` rows."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a training fraction must be in (0, 1], got {fraction}")
    labels = np.asarray(labels)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(1, int(round(fraction * rows.size)))
        chosen.append(rng.choice(rows, size=take, replace=False) if take < rows.size else rows)
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def write_train_subset(train: PathLike, out: PathLike, fraction: float, seed: int, task: str) -> dict[str, Any]:
    """Write the subset of ``train.tsv.gz`` (header and the chosen lines, deterministic gzip); return its counts."""
    with open_text(train) as handle:
        header, *lines = handle.read().splitlines(keepends=True)
    if not header.startswith("sequence\tlabel"):
        raise InputError(train, "expected a dataset split with a 'sequence<TAB>label' header", line=1)
    try:
        labels = np.array([int(line.split("\t", 2)[1]) for line in lines], dtype=np.int64)
    except (IndexError, ValueError):
        raise InputError(train, "a row without an integer label", field="label") from None
    rows = subset_rows(labels, fraction, subset_rng(seed, task, fraction))
    with atomic_path(out) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                                        mtime=0) as gz:  # fmt: skip
        gz.write((header + "".join(lines[i] for i in rows.tolist())).encode("ascii"))
    counts = {int(label): int((labels[rows] == label).sum()) for label in np.unique(labels)}
    log.info("%s: %d of %d training sequences (fraction %g, seed %d), per class %s", task, rows.size, labels.size,
             fraction, seed, counts)
    return {"rows": int(rows.size), "of": int(labels.size), "per_class": counts}


def count_rows(path: PathLike) -> int:
    """Data rows of a dataset split (lines after the header)."""
    with open_text(path) as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def point_runs(files: Sequence[PathLike], seeds: Sequence[int] | None) -> dict[str, dict[str, Any]]:
    """Test metrics by run from per-seed fine-tuning ``metrics.json`` (``seed``, ``test``) or baseline files.

    A baseline file holds ``runs``; with ``seeds`` (one per file: a subset per seed) its single
    run is that seed's, otherwise (the full split: the benchmark's own file) all its runs count.
    """
    runs: dict[str, dict[str, Any]] = {}
    for i, path in enumerate(files):
        data = read_json(path)
        if "test" in data:
            runs[str(data["seed"])] = data["test"]
        elif seeds is not None:
            if len(data.get("runs", {})) != 1:
                raise InputError(path, "expected one run per subset", field="runs")
            runs[str(seeds[i])] = next(iter(data["runs"].values()))
        else:
            runs.update({str(key): value for key, value in data["runs"].items()})
    if not runs:
        raise InputError(files[0] if files else None, "no runs")
    return runs


def curve_point(files: Sequence[PathLike], seeds: Sequence[int] | None, *, task: str, model: str, headline: str,
                fraction: float, train_sequences: int) -> dict[str, Any]:  # fmt: skip
    """One learning-curve point: test metrics over seeds at one training fraction."""
    return summarise_runs(point_runs(files, seeds), task=task, model=model, headline=headline, fraction=fraction,
                          train_sequences=train_sequences)  # fmt: skip


def curve_table(files: Sequence[PathLike]) -> list[dict[str, Any]]:
    """One row per (task, model, fraction) from the points' ``metrics.json``, by task, model and fraction."""
    rows = []
    for path in files:
        data = read_json(path)
        row: dict[str, Any] = {"task": data["task"], "model": data["model"], "fraction": float(data["fraction"]),
                               "train_sequences": int(data["train_sequences"]), "runs": len(data["runs"]),
                               "collapsed": len(data.get("collapsed", [])), "headline": data["headline"]}  # fmt: skip
        for metric in SCALAR_METRICS:
            row[f"{metric}_mean"] = data["mean"].get(metric)
            row[f"{metric}_sd"] = data["sd"].get(metric)
        rows.append(row)
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    return sorted(rows, key=lambda r: (tasks.index(r["task"]), models.index(r["model"]), r["fraction"]))


def write_curve_table(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """``summary.tsv`` of the learning curves (blank for undefined values; 4 decimals, as the benchmark table)."""
    write_table_rows(path, CURVE_COLUMNS, ({**row, "fraction": f"{row['fraction']:g}"} for row in rows))


def plot_curves(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """Test headline metric (mean ± sd over seeds) against training sequences, a line per model, a panel per task."""
    from dnabert.plots import PALETTE, figure, save

    tasks = list(dict.fromkeys(row["task"] for row in rows)) or ["(no tasks)"]
    models = list(dict.fromkeys(row["model"] for row in rows))
    columns = min(3, len(tasks))
    n_rows = -(-len(tasks) // columns)
    fig, axes = figure(n_rows, columns, figsize=(4.6 * columns, 3.6 * n_rows), squeeze=False,
                       constrained_layout=True)  # fmt: skip
    extra = iter(["#6a3d9a", "#33a02c", "#b15928", "#a6cee3"])
    colours = {m: PALETTE.get("bert" if m.startswith("dnabert") else m) or next(extra) for m in models}
    for ax, task in zip(axes.flat, tasks):
        mine = [row for row in rows if row["task"] == task]
        metric = mine[0]["headline"] if mine else "mcc"
        for model in models:
            points = [row for row in mine if row["model"] == model]
            if not points:
                continue
            x = np.array([row["train_sequences"] for row in points], dtype=float)
            y = np.array([np.nan if row[f"{metric}_mean"] is None else row[f"{metric}_mean"] for row in points])
            sd = np.array([0.0 if row[f"{metric}_sd"] is None else row[f"{metric}_sd"] for row in points])
            dashed = model == "bert_scratch"
            ax.errorbar(x, y, yerr=sd, marker="o", ms=4, capsize=3, color=colours[model], label=model,
                        ls="--" if dashed else "-")  # fmt: skip
        ax.set_xscale("log")
        ax.axhline(0.0 if metric != "auroc" else 0.5, color="grey", lw=0.8, ls=":")
        ax.set(title=task, xlabel="training sequences (log scale)", ylabel=f"test {metric.upper()} (mean ± sd)")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(title="model", fontsize=8)
    save(fig, path)
