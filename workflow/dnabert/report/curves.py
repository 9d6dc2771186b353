"""The report's learning-curve page: test MCC (the headline metric) per task, model and training size.

Reads ``results/learning_curve/summary.tsv`` (:mod:`dnabert.lm.learning_curve`) and
renders ``templates/report/learning_curves.html.j2``: one row per task and training
fraction, one column per model (mean ± sd over seeds, collapsed runs counted), the
best model of each row in bold.
"""

from __future__ import annotations

from typing import Any

from dnabert.html import Table, parse_number, read_tsv, table, write_page
from dnabert.io import PathLike
from dnabert.metrics import format_mean_sd


def curve_context(summary: PathLike) -> dict[str, Any]:
    """The learning-curve table, or ``None`` without points."""
    rows = read_tsv(summary)
    if not rows:
        return {"curves": None}
    models = list(dict.fromkeys(row["model"] for row in rows))
    points: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for row in rows:
        points.setdefault((row["task"], row["fraction"]), {})[row["model"]] = row
    body, bold = [], []
    for i, ((task, fraction), by_model) in enumerate(points.items()):
        first = next(iter(by_model.values()))
        metric = first["headline"]
        means = [parse_number(by_model[m][f"{metric}_mean"]) if m in by_model else None for m in models]
        best = max((v for v in means if v is not None), default=None)
        cells: list[Any] = [task, f"{float(fraction):g}", int(first["train_sequences"]), metric.upper()]
        for model, mean in zip(models, means):
            if model not in by_model:
                cells.append("")
                continue
            item = by_model[model]
            text = format_mean_sd(mean, parse_number(item[f"{metric}_sd"]))
            dead = int(item.get("collapsed") or 0)
            if best is not None and mean == best:
                bold.append((i, len(cells)))
            cells.append(f"{text} ({dead} of {item['runs']} collapsed)" if dead else text)
        body.append(cells)
    curves: Table = table(["task", "fraction", "training sequences", "metric", *models], body, bold=bold,
                          numeric=[False, True, True, False, *(True for _ in models)],
                          caption="Test metric against training size (mean ± sd over seeds; one subset per seed)")
    return {"curves": curves}


def write_curve_page(path: PathLike, summary: PathLike) -> None:
    """The learning-curve page of :func:`curve_context`."""
    write_page(path, "report/learning_curves.html.j2", **curve_context(summary))
