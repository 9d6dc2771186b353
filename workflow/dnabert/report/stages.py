"""The report's pages of the stages' own results: a task dataset, pretraining, the test metrics.

* :func:`write_dataset_page`: a task dataset's sequences per split, class and source,
  GC content and length, and the leakage checks (``templates/report/dataset.html.j2``).
* :func:`write_pretrain_page`: held-out MLM metrics, throughput, model and data sizes
  (``templates/report/pretrain.html.j2``).
* :func:`write_metrics_page`: test metrics of every task and model, mean ± sd over
  runs, the best per task in bold (``templates/report/test_metrics.html.j2``).

Each ``*_context`` function gives what its template shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dnabert.html import Table, fmt, parse_number, read_tsv, table, write_page
from dnabert.io import PathLike, read_json
from dnabert.metrics import SCALAR_METRICS, format_mean_sd

SPLITS = ("train", "dev", "test")

# --------------------------------------------------------------------------- dataset


def _count_rows(counts: Sequence[Mapping[str, str]]) -> list[list[Any]]:
    """(label, source, one count per split, total) rows, positives first, and a total row."""
    by_class: dict[tuple[str, str], dict[str, int]] = {}
    for row in counts:
        by_class.setdefault((row["label"], row["source"]), {})[row["split"]] = int(row["count"])
    rows = []
    for (label, source), by_split in sorted(by_class.items(), key=lambda item: (-int(item[0][0]), item[0][1])):
        values = [by_split.get(split, 0) for split in SPLITS]
        rows.append([label, source, *values, sum(values)])
    totals = [sum(row[2 + i] for row in rows) for i in range(len(SPLITS))]
    rows.append(["", "all", *totals, sum(totals)])
    return rows


def _overlap_table(path: PathLike) -> Table:
    """Each split's bases inside pretraining corpus pieces (test must be 0)."""
    rows = read_tsv(path)
    return table(
        ["split", "rows", "rows with coordinates", "bases of their intervals", "bases in corpus pieces",
         "rows overlapping the corpus"],
        ([r["split"], int(r["rows"]), int(r["rows_with_coordinates"]), int(r["interval_bases"]),
          int(r["overlap_bp"]), int(r["rows_overlapping"])] for r in rows),
        caption="Overlap with the pretraining corpus (test intervals are cut out of the corpus: 0 bp; train and "
                "dev may overlap; rows without coordinates, e.g. shuffles or table rows, cannot be located)",
    )  # fmt: skip


def _duplicates_table(report: Mapping[str, Any] | None) -> Table | None:
    """Repeated sequences per split before the dedup policy, what it removed, and the rows left."""
    if not report:
        return None
    before, after = report["before"], report["after"]
    within = before["within"]
    rows = [["rows in the input", *(within[s]["rows"] for s in SPLITS)],
            ["exact copies within the split", *(within[s]["exact"] for s in SPLITS)],
            ["reverse-complement copies within the split", *(within[s]["reverse_complement"] for s in SPLITS)]]
    for other in SPLITS:
        rows.append([f"rows whose sequence is also in {other}",
                     *("" if s == other else before["across"]["-".join(sorted((s, other), key=SPLITS.index))]
                       ["rows"][s] for s in SPLITS)])
    rows += [["sequences with two or more labels", *(before["label_conflicts"][s] for s in SPLITS)],
             [f"removed (dedup: {report['dedup']})", *(report["removed"][s] for s in SPLITS)],
             ["rows kept", *(after["within"][s]["rows"] for s in SPLITS)]]
    return table(["repeated sequences (or reverse complements)", *SPLITS], rows,
                 caption=f"Repeated sequences, counted before dedup: {report['dedup']} removed the rows shown; "
                         f"{before['label_conflicts']['any']} sequences carry two labels over all splits")


def dataset_context(task: str, counts: PathLike, composition: PathLike, summary: PathLike,
                    corpus_overlap: PathLike | None = None) -> dict[str, Any]:  # fmt: skip
    """A task's data page: sequences per split, class and source; GC/length; leakage checks; corpus overlap."""
    rows = _count_rows(read_tsv(counts))
    qc = read_json(summary)
    chroms = qc.get("chromosomes", {})
    distance = qc.get("gc_distance_to_positives") or {}
    return {
        "task": task,
        "chromosomes": {split: ", ".join(chroms.get(split, [])) or "-" for split in SPLITS},
        "counts": table(["label", "source", *SPLITS, "total"], rows, caption="Sequences per split",
                        row_classes=[""] * (len(rows) - 1) + ["best"]),
        "composition": table(
            ["split", "label", "source", "n", "GC mean", "GC sd", "length min", "length median", "length max"],
            ([r["split"], r["label"], r["source"], int(r["n"]), parse_number(r["gc_mean"]),
              parse_number(r["gc_sd"]), parse_number(r["length_min"]), parse_number(r["length_median"]),
              parse_number(r["length_max"])] for r in read_tsv(composition)),
            caption="GC content (fraction) and length (bp) by split, class and source",
            numeric=(False, False, False, True, True, True, True, True, True), digits=(0, 0, 0, 0, 3, 3, 0, 1, 0),
        ),
        "distance": table(
            ["negative type", "GC histogram distance (TVD)", "Kolmogorov-Smirnov D"],
            ([source, parse_number(d.get("gc_histogram_tvd")), parse_number(d.get("gc_ks"))]
             for source, d in sorted(distance.items())),
            caption="How far each negative type's GC content is from the positives' (0 = identical)",
        ) if distance else None,
        "leakage": table(
            ["check", "value"],
            [("sequences (or reverse complements) in two splits", qc.get("sequences_in_two_splits")),
             ("intervals overlapping an interval of another split", qc.get("intervals_overlapping_another_split"))],
            caption="Leakage checks (both should be 0)",
        ),
        "corpus_overlap": _overlap_table(corpus_overlap) if corpus_overlap else None,
        "duplicates": _duplicates_table(qc.get("duplicates")),
    }  # fmt: skip


def write_dataset_page(path: PathLike, task: str, counts: PathLike, composition: PathLike,
                       summary: PathLike, corpus_overlap: PathLike | None = None) -> None:  # fmt: skip
    """The data page of :func:`dataset_context`."""
    write_page(path, "report/dataset.html.j2",
               **dataset_context(task, counts, composition, summary, corpus_overlap))


# --------------------------------------------------------------------------- pretraining


def _round(value: Any, digits: int) -> Any:
    """A float as text with ``digits`` decimals (so a table column can mix precisions)."""
    return fmt(value, digits) if isinstance(value, float) else value


def pretrain_context(metrics: Mapping[str, Any], history: Sequence[Mapping[str, str]] = ()) -> dict[str, Table]:
    """The pretraining page from ``metrics.json`` and the training log: held-out MLM metrics, training, model.

    Training time and throughput come from the log's last row (``metrics.json`` holds
    nothing that depends on the wall clock).
    """
    last_row = history[-1] if history else {}
    seconds, tokens = parse_number(last_row.get("elapsed_s")), parse_number(last_row.get("tokens"))
    ev = metrics.get("eval") or {}
    model = metrics.get("model") or {}
    params = model.get("parameters") or {}
    train = metrics.get("train") or {}
    first, last = train.get("first_logged") or {}, train.get("last_logged") or {}
    held_out = [
        ("held-out masked-token cross-entropy (nats)", ev.get("loss")),
        ("uniform-guess cross-entropy, ln 4^k (nats)", ev.get("uniform_loss")),
        ("held-out masked-token accuracy", ev.get("accuracy")),
        *[(f"held-out tokens shown {label}: count, cross-entropy, accuracy", _by_input(ev, kind))
          for kind, label in (("mask", "[MASK] (learned from context)"), ("random", "a random k-mer"),
                              ("unchanged", "unchanged (copying the input)"))],
        ("held-out tokens shown [MASK]: cross-entropy of the training k-mer frequencies (no context)",
         _round((ev.get("by_input") or {}).get("mask", {}).get("frequency_loss"), 4)),
        ("held-out perplexity", _round(ev.get("perplexity"), 1)),
        ("held-out masked tokens scored", ev.get("masked_tokens")),
        ("held-out pieces", ev.get("pieces")),
        ("held-out data", ev.get("held_out")),
    ]
    training = [
        ("optimizer steps", metrics.get("steps")),
        ("tokens trained on", metrics.get("tokens")),
        ("epochs over the corpus", metrics.get("epochs")),
        ("training time (s)", _round(seconds, 1)),
        ("throughput (tokens/s)", _round(tokens / seconds, 0) if seconds and tokens else None),
        ("padding (share of batch tokens)", metrics.get("padding_fraction")),
        (f"training loss, first logged (step {first.get('step', '?')})", first.get("loss")),
        (f"training loss, last logged (step {last.get('step', '?')})", last.get("loss")),
        (", ".join(present := [key for key in ("device", "processes", "precision", "kernels") if key in metrics])
         or "device", ", ".join(str(metrics[key]) for key in present) or None),
        ("resumed from step", metrics.get("resumed_from_step")),
        ("started from", metrics.get("pretrained") or "random weights"),
    ]  # fmt: skip
    sizes = [("k-mer length", metrics.get("k")), ("layers", model.get("layers")), ("hidden size", model.get("hidden")),
             ("attention heads", model.get("heads")), ("feed-forward size", model.get("intermediate")),
             ("parameters", params.get("total")), ("of which embeddings", params.get("embedding"))]  # fmt: skip
    return {
        "held_out": table(["held-out metric", "value"], held_out, numeric=(False, False)),
        "training": table(["training", "value"], training, numeric=(False, False)),
        "model": table(["model", "value"], sizes, numeric=(False, False)),
    }


def _by_input(ev: Mapping[str, Any], kind: str) -> str | None:
    """Tokens, loss and accuracy of one input kind of the held-out evaluation (None for runs before the split)."""
    part = (ev.get("by_input") or {}).get(kind)
    if not part:
        return None
    return f"{part['tokens']}, {part['loss']:.4f}, {part['accuracy']:.4f}"


def write_pretrain_page(path: PathLike, metrics: Mapping[str, Any], history: Sequence[Mapping[str, str]] = ()) -> None:
    """The pretraining page of :func:`pretrain_context`."""
    write_page(path, "report/pretrain.html.j2", **pretrain_context(metrics, history))


# --------------------------------------------------------------------------- test metrics

METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1 (macro)", "mcc": "MCC", "auroc": "AUROC", "auprc": "AUPRC",
                "precision": "precision", "recall": "recall"}  # fmt: skip


def _side_by_side(by_task: Mapping[str, list[dict[str, str]]], models: Sequence[str], shown: Sequence[str]) -> Table:
    """One row per task: each shown metric of every model, the best per task and metric in bold."""
    columns = ["task"] + [f"{model} {METRIC_NAMES.get(m, m)}" for m in shown for model in models]
    body, bold = [], []
    for i, (task, items) in enumerate(by_task.items()):
        lookup = {item["model"]: item for item in items}
        cells: list[Any] = [task]
        for metric in shown:
            means = [parse_number(lookup[m][f"{metric}_mean"]) if m in lookup else None for m in models]
            best = max((v for v in means if v is not None), default=None)
            for model, mean in zip(models, means):
                sd = parse_number(lookup[model][f"{metric}_sd"]) if model in lookup else None
                if best is not None and mean == best:
                    bold.append((i, len(cells)))
                cells.append(format_mean_sd(mean, sd) if model in lookup else "")
        body.append(cells)
    return table(columns, body, bold=bold, numeric=[False] + [True] * (len(columns) - 1),
                 caption=f"{', '.join(METRIC_NAMES.get(m, m) for m in shown)} per task and model")  # fmt: skip


def _every_metric(by_task: Mapping[str, list[dict[str, str]]], metrics: Sequence[str]) -> Table:
    """One row per task and model: runs and every metric, the best per task and metric in bold."""
    body, bold = [], []
    for task, items in by_task.items():
        best = {m: max((v for v in (parse_number(item[f"{m}_mean"]) for item in items) if v is not None), default=None)
                for m in metrics}  # fmt: skip
        for item in items:
            row = len(body)
            body.append([task, item["model"], _runs_text(item)])
            for metric in metrics:
                mean = parse_number(item[f"{metric}_mean"])
                if mean is not None and mean == best[metric]:
                    bold.append((row, len(body[-1])))
                body[-1].append(format_mean_sd(mean, parse_number(item[f"{metric}_sd"])))
    return table(["task", "model", "runs", *(METRIC_NAMES[m] for m in metrics)], body, bold=bold,
                 numeric=(False, False, True, *(True for _ in metrics)),
                 caption="Every metric (runs: seeds, and how many collapsed to one predicted class)")  # fmt: skip


def _runs_text(item: Mapping[str, str]) -> str:
    """``3``, or ``3 (1 collapsed)`` when runs predicted one class for every test sequence."""
    dead = int(item.get("collapsed") or 0)
    return f"{item['runs']} ({dead} collapsed)" if dead else str(item["runs"])


def _published(rows: Sequence[Mapping[str, str]], published: Sequence[Mapping[str, str]]) -> Table | None:
    """Each published figure beside our models' value of the same metric on the same task."""
    if not published:
        return None
    ours = [row["model"] for row in rows]
    ours = list(dict.fromkeys(ours))
    lookup = {(row["task"], row["model"]): row for row in rows}
    body = []
    for item in published:
        metric = item["headline"]
        values = [format_mean_sd(parse_number(lookup[(item["task"], m)][f"{metric}_mean"]),
                                 parse_number(lookup[(item["task"], m)][f"{metric}_sd"]))
                  if (item["task"], m) in lookup else "" for m in ours]  # fmt: skip
        body.append([item["task"], METRIC_NAMES.get(metric, metric), *values, item["model"],
                     parse_number(item[f"{metric}_mean"]), item["source"]])
    return table(["task", "metric", *(f"ours: {m}" for m in ours), "published model", "published", "source"], body,
                 numeric=[False, False, *(True for _ in ours), False, True, False],
                 caption="Published figures beside ours (published: on each benchmark's full test set; a task built "
                         "from part of a benchmark is scored on fewer sequences)")  # fmt: skip


def metrics_context(summary: PathLike) -> dict[str, Table | None]:
    """The test-metrics page from ``results/benchmarks/summary.tsv`` (all tables ``None`` without tasks).

    First the headline metric and AUROC of every model side by side, one row per task,
    then every metric; mean ± sd over runs, the best value per task in bold; then the
    published figures of benchmark datasets beside ours (rows with a ``source``).
    """
    every = read_tsv(summary)
    rows = [row for row in every if not row.get("source")]
    published = [row for row in every if row.get("source")]
    if not rows:
        return {"headline": None, "every": None, "published": None}
    metrics = [m for m in SCALAR_METRICS if f"{m}_mean" in rows[0]]
    by_task: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    models = list(dict.fromkeys(row["model"] for row in rows))
    headlines = list(dict.fromkeys(items[0].get("headline") or "mcc" for items in by_task.values()))
    shown = list(dict.fromkeys([*headlines, "auroc"]))
    return {"headline": _side_by_side(by_task, models, shown), "every": _every_metric(by_task, metrics),
            "published": _published(rows, published)}  # fmt: skip


def write_metrics_page(path: PathLike, summary: PathLike) -> None:
    """The test-metrics page of :func:`metrics_context`."""
    write_page(path, "report/test_metrics.html.j2", **metrics_context(summary))
