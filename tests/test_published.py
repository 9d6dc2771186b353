"""Published GUE / Genomic Benchmarks figures: the cited data file, task matching, the table, plot and page."""

from __future__ import annotations

import json
from statistics import mean

import numpy as np
from PIL import Image

from dnabert.report import stages
from dnabert.report.benchmarks import TABLE_COLUMNS, benchmark_table, plot_table, write_table
from dnabert.report.published import read_published, task_names


def test_every_figure_is_cited_and_the_checked_rows_match_the_papers_averages():
    figures = read_published()
    assert all(f.source and f.table and f.metric in ("mcc", "accuracy") for f in figures)
    assert all(f.note.startswith("absent") for f in figures if f.value is None)
    by_model = {}
    for figure in figures:
        if figure.benchmark == "GUE":
            by_model.setdefault(figure.model, []).append(figure)
    assert {model: len(rows) for model, rows in by_model.items()} == {"DNABERT-2": 28, "NT-2500M-multi": 28,
                                                                       "DNABERT-6": 28}
    # The DNABERT-2 paper's averages over the 28 GUE datasets (MCC, percent).
    assert abs(100 * mean(f.value for f in by_model["DNABERT-2"]) - 66.80) < 0.01  # 66.805
    assert abs(100 * mean(f.value for f in by_model["NT-2500M-multi"]) - 66.93) < 0.01


def test_task_names_follow_the_gue_folder_names_and_skip_ambiguous_suffixes():
    names = task_names(read_published())
    assert names["EMP_H3"] == "EMP/H3" and names["prom_prom_300_all"] == "prom/prom_300_all"
    assert names["prom_300_all"] == "prom/prom_300_all" and names["virus_covid"] == "virus/covid"
    assert names["human_nontata_promoters"] == "human_nontata_promoters"
    assert "0" not in names and "tf_0" in names and "mouse_0" in names  # tf/0 and mouse/0 share the suffix 0
    assert "ctcf" not in names


def test_summary_table_plot_and_page_show_published_beside_ours(tmp_path):
    files = []
    for task, model, mcc, acc in [("EMP_H3", "dnabert", 0.61, 0.80), ("EMP_H3", "cnn", 0.55, 0.77),
                                  ("human_nontata_promoters", "dnabert", 0.5, 0.75), ("ctcf", "dnabert", 0.4, 0.7)]:
        path = tmp_path / f"{task}_{model}.json"
        path.write_text(json.dumps({"task": task, "model": model, "headline": "mcc",
                                    "runs": {"1": {}, "2": {}}, "mean": {"mcc": mcc, "accuracy": acc},
                                    "sd": {"mcc": 0.01, "accuracy": 0.02}}))
        files.append(path)
    rows = benchmark_table(files)
    assert [(r["task"], r["model"]) for r in rows] == [
        ("EMP_H3", "dnabert"), ("EMP_H3", "cnn"), ("EMP_H3", "DNABERT-2 (published)"),
        ("EMP_H3", "NT-2500M-multi (published)"), ("EMP_H3", "DNABERT-6 (published)"),
        ("human_nontata_promoters", "dnabert"), ("human_nontata_promoters", "CNN (published)"), ("ctcf", "dnabert")]
    assert rows[2]["mcc_mean"] == 0.7827 and "Zhou et al. 2024" in rows[2]["source"] and rows[2]["runs"] is None
    assert rows[6]["accuracy_mean"] == 0.846 and rows[6]["headline"] == "accuracy"
    write_table(tmp_path / "summary.tsv", rows)
    lines = (tmp_path / "summary.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(TABLE_COLUMNS) and lines[0].endswith("\tsource")
    cells = dict(zip(TABLE_COLUMNS, lines[3].split("\t")))
    assert cells["model"] == "DNABERT-2 (published)" and cells["mcc_mean"] == "0.7827" and cells["runs"] == ""
    plot_table(tmp_path / "summary.png", rows)
    pixels = np.asarray(Image.open(tmp_path / "summary.png").convert("L"))
    assert pixels.shape[1] > 900 and pixels.std() > 10  # three panels: MCC, AUROC, accuracy
    stages.write_metrics_page(tmp_path / "metrics.html", tmp_path / "summary.tsv")
    page = (tmp_path / "metrics.html").read_text()
    assert "Published figures beside ours" in page and "DNABERT-2 (published)" in page
    assert "0.783" in page and "0.846" in page and "Gresova et al. 2023" in page
    assert benchmark_table(files, published=False) == [r for r in rows if not r.get("source")]
