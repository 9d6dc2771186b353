"""Repeated sequences: counts within and across splits, the dedup policies, intact benchmark test sets."""

from __future__ import annotations

import json

import pytest

from conftest import bench_module
from dnabert.data.duplicates import count_duplicates, dedup_mask, resolve_policy
from dnabert.data.datasets import build_dataset
from dnabert.data.qc import dataset_qc
from dnabert.report.stages import dataset_context, write_dataset_page

# Rows: 0-1 an exact pair in train, 2 the reverse complement of 3 in train, 4 a train row also in test (5, as its
# reverse complement, with another label), 6 a train row also in dev (7), 8-9 an exact pair in test, 10 dev alone.
SEQS = ["AAAC", "aaac", "ACCG", "CGGT", "GATTC", "GAATC", "TTTG", "TTTG", "CCCA", "CCCA", "GGGA"]
SPLIT = ["train"] * 5 + ["test", "train", "dev", "test", "test", "dev"]
LABELS = [0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0]


def test_counts_name_every_kind_of_copy():
    report = count_duplicates(SEQS, LABELS, SPLIT)
    assert report["within"] == {"train": {"rows": 6, "exact": 1, "reverse_complement": 1},
                                "dev": {"rows": 2, "exact": 0, "reverse_complement": 0},
                                "test": {"rows": 3, "exact": 1, "reverse_complement": 0}}
    assert report["across"]["train-test"] == {"sequences": 1, "exact": 0, "reverse_complement": 1,
                                              "rows": {"train": 1, "test": 1}}
    assert report["across"]["train-dev"] == {"sequences": 1, "exact": 1, "reverse_complement": 0,
                                             "rows": {"train": 1, "dev": 1}}
    assert report["across"]["dev-test"]["sequences"] == 0
    assert report["label_conflicts"] == {"train": 0, "dev": 0, "test": 0, "any": 1}


@pytest.mark.parametrize(("policy", "dropped"), [
    ("none", []),
    ("within_train", [1, 3]),
    ("train_vs_heldout", [1, 3, 4, 6]),
    ("all", [1, 3, 4, 6, 9]),
])
def test_policies_drop_exactly_these_rows(policy, dropped):
    keep = dedup_mask(SEQS, SPLIT, policy)
    assert [i for i, k in enumerate(keep) if not k] == dropped


def test_auto_keeps_given_test_sets_whole_and_chromosome_splits_as_before():
    assert resolve_policy("auto", given_splits=True) == "train_vs_heldout"
    assert resolve_policy("auto", given_splits=False) == "all"
    assert resolve_policy("none", given_splits=False) == "none"
    with pytest.raises(ValueError):
        resolve_policy("some", given_splits=True)


def test_gue_like_test_file_keeps_every_row(tmp_path):
    """prom_core_tata-like: 613 test rows with 2 repeats stay 613 by default; dedup: all gives the old 611."""
    bench = bench_module("gue_duplicates")
    folder = bench.write_gue_folder(tmp_path)
    kept, report = bench.build(folder, "auto", tmp_path / "datasets")
    assert kept == {"train": 4895, "dev": 613, "test": 613}
    assert report["dedup"] == "train_vs_heldout" and report["removed"] == {"train": 9, "dev": 0, "test": 0}
    assert report["before"]["within"]["test"] == {"rows": 613, "exact": 1, "reverse_complement": 1}
    assert report["after"]["within"]["test"] == report["before"]["within"]["test"]
    assert report["after"]["across"]["train-test"]["sequences"] == 0
    assert report["before"]["label_conflicts"]["any"] == 1
    old, _ = bench.build(folder, "all", tmp_path / "datasets")
    assert old == {"train": 4895, "dev": 612, "test": 611}
    # The test file's rows, in the written split, are the file's rows (order aside).
    import gzip
    written = sorted(line.split("\t")[0] for line in gzip.open(tmp_path / "datasets/auto/test.tsv.gz", "rt")
                     .read().splitlines()[1:])
    original = sorted(line.split(",")[0] for line in (folder / "prom/prom_core_tata/test.csv").read_text()
                      .splitlines()[1:])
    assert written == original


def test_qc_summary_and_report_page_show_the_duplicates(tmp_path):
    csv = {s: tmp_path / f"{s}.csv" for s in ("train", "test")}
    csv["train"].write_text("sequence,label\nACGTAC,0\nACGTAC,0\nGGGGTT,1\nCCCCAA,1\n")
    csv["test"].write_text("sequence,label\nTTGGGG,1\nTTGGGG,1\nCATCAT,0\n")  # TTGGGG: reverse complement of CCCCAA
    cfg = {"type": "table", "files": [{"path": str(csv["train"]), "split": "train"},
                                      {"path": str(csv["test"]), "split": "test"}]}
    out = {s: tmp_path / "t" / f"{s}.tsv.gz" for s in ("train", "dev", "test")}
    out["duplicates"] = tmp_path / "t" / "qc" / "duplicates.json"
    frames = build_dataset("t", cfg, {"table_0": str(csv["train"]), "table_1": str(csv["test"])},
                           {"dev": [], "test": [], "seed": 1}, out)
    assert len(frames["test"]) == 3 and len(frames["train"]) == 2  # the repeat and the test sequence go
    qc = {"counts": tmp_path / "c.tsv", "composition": tmp_path / "m.tsv", "summary": tmp_path / "s.json",
          "plot": tmp_path / "p.png"}
    summary = dataset_qc("t", {**{s: out[s] for s in ("train", "dev", "test")}, "duplicates": out["duplicates"]}, qc)
    assert summary["duplicates"] == json.loads(out["duplicates"].read_text())
    assert summary["duplicates"]["before"]["across"]["train-test"]["reverse_complement"] == 1
    page = dataset_context("t", qc["counts"], qc["composition"], qc["summary"])["duplicates"]
    rows = {row.cells[0].text: row.cells[1:] for row in page.rows}
    assert [cell.text for cell in rows["exact copies within the split"]] == ["1", "0", "1"]
    assert [cell.text for cell in rows["removed (dedup: train_vs_heldout)"]] == ["2", "0", "0"]
    write_dataset_page(tmp_path / "page.html", "t", qc["counts"], qc["composition"], qc["summary"])
    assert "Repeated sequences, counted before dedup" in (tmp_path / "page.html").read_text()
