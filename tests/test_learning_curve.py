"""Learning curves: stratified seeded subsets, points over seeds, the table, plot and report page."""

from __future__ import annotations

import gzip
import json

import numpy as np
from PIL import Image

from dnabert.config.finetune import task_settings, train_fractions
from dnabert.lm.learning_curve import (
    CURVE_COLUMNS, curve_point, curve_table, plot_curves, subset_rng, subset_rows, write_curve_table,
    write_train_subset,
)
from dnabert.report.curves import write_curve_page


def test_subsets_are_stratified_seeded_and_keep_every_class():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    rows = subset_rows(labels, 0.1, subset_rng(1, "t", 0.1))
    assert np.bincount(labels[rows], minlength=3).tolist() == [9, 1, 1]
    assert (np.diff(rows) > 0).all()  # original order
    again = subset_rows(labels, 0.1, subset_rng(1, "t", 0.1))
    other = subset_rows(labels, 0.1, subset_rng(2, "t", 0.1))
    assert rows.tolist() == again.tolist() and rows.tolist() != other.tolist()
    assert subset_rows(labels, 1.0, subset_rng(1, "t", 1.0)).tolist() == list(range(100))


def test_write_train_subset_keeps_the_split_lines(tmp_path):
    header = "sequence\tlabel\tchrom\tstart\tend\tstrand\tname\tsource\n"
    lines = [f"ACGTACGT\t{i % 2}\tchr1\t{i}\t{i + 8}\t+\tr{i}\tpeak\n" for i in range(40)]
    train = tmp_path / "train.tsv.gz"
    with gzip.open(train, "wt") as handle:
        handle.write(header + "".join(lines))
    counts = write_train_subset(train, tmp_path / "sub.tsv.gz", 0.25, 3, "task")
    assert counts == {"rows": 10, "of": 40, "per_class": {0: 5, 1: 5}}
    text = gzip.open(tmp_path / "sub.tsv.gz", "rt").read().splitlines(keepends=True)
    assert text[0] == header and set(text[1:]) <= set(lines) and len(text) == 11
    first = (tmp_path / "sub.tsv.gz").read_bytes()
    write_train_subset(train, tmp_path / "sub.tsv.gz", 0.25, 3, "task")
    assert (tmp_path / "sub.tsv.gz").read_bytes() == first  # deterministic gzip


def test_train_fractions_default_and_per_task_override_leave_run_settings_alone():
    config = {"finetune": {"train_fractions": [1.0, 0.1], "lr": 1e-3, "tasks": {"b": {"train_fractions": [0.5]}}},
              "tasks": {"a": {}, "b": {}, "c": {}}}
    assert train_fractions(config, "a") == [0.1, 1.0] and train_fractions(config, "b") == [0.5]
    assert train_fractions({"finetune": {}}, "a") == [1.0]
    assert "train_fractions" not in task_settings(config, "a") and "train_fractions" not in task_settings(config, "b")


def _metrics(seed, mcc, init="pretrained"):
    return {"seed": seed, "init": init, "test": {"mcc": mcc, "auroc": 0.5 + mcc / 2, "accuracy": 0.5,
                                                 "confusion_matrix": [[5, 1], [1, 5]]}}


def test_points_table_plot_and_page(tmp_path):
    files = []
    for model, frac, n in [("dnabert", 0.1, 12), ("dnabert", 1.0, 120), ("cnn", 0.1, 12), ("cnn", 1.0, 120)]:
        runs = []
        for seed in (1, 2, 3):
            path = tmp_path / f"{model}{frac}_{seed}.json"
            if model == "dnabert":
                path.write_text(json.dumps(_metrics(seed, 0.2 * seed * frac + 0.3)))
            else:  # a baseline run on one subset: one run keyed by the baseline
                path.write_text(json.dumps({"runs": {"x": _metrics(seed, 0.1 * seed + frac / 2)["test"]}}))
            runs.append(path)
        point = curve_point(runs, [1, 2, 3], task="t", model=model, headline="mcc", fraction=frac, train_sequences=n)
        assert list(point["runs"]) == ["1", "2", "3"] and point["train_sequences"] == n
        out = tmp_path / f"point_{model}_{frac}.json"
        out.write_text(json.dumps(point))
        files.append(out)
    benchmark = tmp_path / "benchmark.json"  # fraction 1 of a baseline: the benchmark's own file, every run counts
    benchmark.write_text(json.dumps({"runs": {"deterministic": _metrics(1, 0.4)["test"]}}))
    assert list(curve_point([benchmark], None, task="t", model="kmer_lr", headline="mcc", fraction=1.0,
                            train_sequences=120)["runs"]) == ["deterministic"]
    rows = curve_table(files[::-1])
    assert [(r["model"], r["fraction"]) for r in rows] == [("cnn", 0.1), ("cnn", 1.0), ("dnabert", 0.1),
                                                           ("dnabert", 1.0)]
    assert abs(rows[2]["mcc_mean"] - 0.34) < 1e-9 and rows[2]["runs"] == 3
    write_curve_table(tmp_path / "summary.tsv", rows)
    assert (tmp_path / "summary.tsv").read_text().splitlines()[0].split("\t") == list(CURVE_COLUMNS)
    plot_curves(tmp_path / "curves.png", rows)
    pixels = np.asarray(Image.open(tmp_path / "curves.png").convert("L"))
    assert pixels.std() > 10
    write_curve_page(tmp_path / "page.html", tmp_path / "summary.tsv")
    page = (tmp_path / "page.html").read_text()
    assert "0.340 ± 0.020" in page and "training sequences" in page and ">120<" in page
