"""Published figures for benchmark datasets (GUE, Genomic Benchmarks), matched to this run's task names.

The figures, each with its paper, table and metric, are in ``published.tsv`` beside this
module (its header says how they were taken and which are absent). A task matches a
published dataset when its name is the workflow's task name of the dataset's folder path
(``EMP/H3`` -> ``EMP_H3``, as :func:`dnabert.config.finetune.task_name` names GUE folders),
or of a suffix of that path no other dataset shares (``prom_300_all``).
:func:`published_rows` gives benchmark-table rows (:mod:`dnabert.report.benchmarks`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnabert.config.finetune import task_name
from dnabert.io import InputError, PathLike

PUBLISHED = Path(__file__).with_name("published.tsv")
COLUMNS = ("benchmark", "dataset", "model", "metric", "value", "source", "table", "note")
METRICS = ("mcc", "accuracy")


@dataclass(frozen=True)
class Figure:
    """One published test figure (``value`` a fraction, ``None`` where absent)."""

    benchmark: str
    dataset: str
    model: str
    metric: str
    value: float | None
    source: str
    table: str
    note: str

    @property
    def label(self) -> str:
        """The model as the benchmark table names it."""
        return f"{self.model} (published)"


def read_published(path: PathLike = PUBLISHED) -> list[Figure]:
    """Every figure of the data file; values in percent become fractions."""
    figures = []
    with open(path, newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        reader = csv.DictReader(lines, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise InputError(path, f"expected columns {' '.join(COLUMNS)}, got {reader.fieldnames}")
        for row in reader:
            if row["metric"] not in METRICS:
                raise InputError(path, f"metric must be one of {', '.join(METRICS)}", field="metric")
            if not row["source"] or not row["table"]:
                raise InputError(path, f"{row['dataset']} {row['model']}: every figure needs its source and table")
            value = float(row["value"]) / 100 if row["value"] else None
            if value is None and not row["note"]:
                raise InputError(path, f"{row['dataset']} {row['model']}: an absent value needs a note", field="note")
            figures.append(Figure(**{**row, "value": value}))
    return figures


def task_names(figures: Iterable[Figure]) -> dict[str, str]:
    """Task name -> dataset path: the full path's name, and each suffix's name that only one dataset has."""
    datasets = sorted({figure.dataset for figure in figures})
    names: dict[str, set[str]] = {}
    for dataset in datasets:
        parts = dataset.strip("/").split("/")
        for i in range(len(parts)):
            names.setdefault(task_name("/".join(parts[i:])), set()).add(dataset)
    exact = {task_name(dataset): dataset for dataset in datasets}
    unique = {name: next(iter(found)) for name, found in names.items() if len(found) == 1}
    return {**unique, **exact}


def published_rows(tasks: Iterable[str], figures: list[Figure] | None = None) -> list[dict[str, Any]]:
    """Benchmark-table rows of the published figures of every task that matches a dataset (absent ones skipped)."""
    figures = read_published() if figures is None else figures
    datasets = task_names(figures)
    rows = []
    for task in tasks:
        dataset = datasets.get(task)
        for figure in figures:
            if dataset is None or figure.dataset != dataset or figure.value is None:
                continue
            rows.append({"task": task, "model": figure.label, "runs": None, "headline": figure.metric,
                         f"{figure.metric}_mean": figure.value,
                         "source": f"{figure.source}; {figure.table}; {figure.metric}"})  # fmt: skip
    return rows
