"""The benchmark table: every task's fine-tuned model and baselines, test metrics over seeds, in one table.

* :func:`benchmark_table` collects the aggregated ``metrics.json`` of every model and
  baseline of every task, one row per (task, model), followed by the published figures
  of tasks that are GUE or Genomic Benchmarks datasets (:mod:`dnabert.report.published`;
  their ``source`` column cites paper, table and metric, and ``runs`` is blank).
* :func:`write_table` writes it as ``results/benchmarks/summary.tsv`` (:data:`TABLE_COLUMNS`;
  ``collapsed`` counts the runs that predicted one class for every test sequence);
  :func:`plot_table` draws it as grouped bars.

The report's test-metrics page (:mod:`dnabert.report.stages`) reads that TSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, read_json, write_table_rows
from dnabert.metrics import SCALAR_METRICS

TABLE_COLUMNS = ("task", "model", "runs", "collapsed", "headline",
                 *(f"{m}_{s}" for m in SCALAR_METRICS for s in ("mean", "sd")), "source")  # fmt: skip


def benchmark_table(files: Sequence[PathLike], published: bool = True) -> list[dict[str, Any]]:
    """One row per (task, model) from aggregated ``metrics.json`` files, in the order given.

    With ``published``, each task's rows are followed by its published figures (if any).
    """
    from dnabert.report.published import published_rows

    rows = []
    for path in files:
        data = read_json(path)
        missing = [key for key in ("task", "model", "mean", "sd", "runs") if key not in data]
        if missing:
            raise InputError(path, f"not an aggregated metrics file (missing {', '.join(missing)})")
        row: dict[str, Any] = {"task": data["task"], "model": data["model"], "runs": len(data["runs"]),
                               "collapsed": len(data.get("collapsed", [])), "headline": data.get("headline", "mcc")}  # fmt: skip
        for metric in SCALAR_METRICS:
            row[f"{metric}_mean"] = data["mean"].get(metric)
            row[f"{metric}_sd"] = data["sd"].get(metric)
        rows.append(row)
    if not published:
        return rows
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    extra = published_rows(tasks)
    return [row for task in tasks for row in [*(r for r in rows if r["task"] == task),
                                              *(r for r in extra if r["task"] == task)]]  # fmt: skip


def write_table(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """The benchmark table as TSV (blank for undefined values), written atomically."""
    write_table_rows(path, TABLE_COLUMNS, rows)


def plot_table(path: PathLike, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("mcc", "auroc")) -> None:
    """Grouped bars (mean ± sd over seeds) of each model per task, one panel per metric, as a PNG.

    Published figures (rows with a ``source``) are hatched grey bars; an accuracy panel is
    added when some are given as accuracy only (Genomic Benchmarks).
    """
    from dnabert.plots import PALETTE, figure, save

    if any(row.get("source") and row.get("accuracy_mean") is not None for row in rows):
        metrics = list(dict.fromkeys([*metrics, "accuracy"]))
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    fig, axes = figure(1, len(metrics), figsize=(max(5.0, 1.2 * len(tasks) * len(metrics) + 3), 3.8),
                       squeeze=False, constrained_layout=True)  # fmt: skip
    width = 0.8 / max(len(models), 1)
    lookup = {(row["task"], row["model"]): row for row in rows}
    published = {row["model"] for row in rows if row.get("source")}
    greys = iter(["#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252"] * 4)
    colours = {model: next(greys) if model in published else
               PALETTE.get("bert" if model.startswith(("dnabert", "bert")) else model) for model in models}  # fmt: skip
    for ax, metric in zip(axes[0], metrics):
        for i, model in enumerate(models):
            x = np.arange(len(tasks)) + (i - (len(models) - 1) / 2) * width
            values = [lookup.get((task, model), {}).get(f"{metric}_mean") for task in tasks]
            errors = [lookup.get((task, model), {}).get(f"{metric}_sd") for task in tasks]
            ax.bar(x, [np.nan if v is None else v for v in values], width, color=colours[model],
                   yerr=[0 if e is None else e for e in errors], capsize=2, label=model,
                   hatch="//" if model in published else None, edgecolor="white" if model in published else None)  # fmt: skip
        ax.set_xticks(np.arange(len(tasks)), tasks, rotation=30, ha="right")
        ax.set_xlabel("task")
        ax.set_ylabel(f"test {metric.upper()} (mean ± sd over seeds)")
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
        ax.axhline(0.5 if metric == "auroc" else 0.0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{metric.upper()} (dashed: chance)")
    if published:
        fig.suptitle("hatched grey: published figures, on each benchmark's full test set", fontsize=10)
        axes[0][-1].legend(title="model", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        axes[0][-1].legend(title="model", fontsize=8, loc="lower right")
    save(fig, path)
