"""config/hg38_pieces.yaml end to end on the real hg38 pieces, with tiny models (tests/config/hg38_pieces_fast.yaml).

One run of the whole DAG (datasets from Genomic Benchmarks coordinates and the NFE2/CTCF tables,
corpus with every test interval cut out, pretraining, fine-tuning, bert_scratch, baselines, a
learning curve, interpretation, the report) in a temporary directory beside a ``shared`` link, so
the config's ``../shared/data`` paths resolve as they do from the repository root.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA, run_snakemake, shared_file

pytestmark = [pytest.mark.workflow, pytest.mark.realdata]
CONFIGS = [str(REPO / "config" / "hg38_pieces.yaml"), str(REPO / "tests" / "config" / "hg38_pieces_fast.yaml")]
COORDINATE_TASKS = ["human_ensembl_regulatory", "human_enhancers_ensembl", "human_enhancers_cohn",
                    "human_nontata_promoters"]
TASKS = [*COORDINATE_TASKS, "nfe2", "ctcf"]


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    shared_file("hg38/grch38.chr20_and_21_10M.fa.gz")
    root = tmp_path_factory.mktemp("hg38_pieces")
    (root / "shared").symlink_to(SHARED_DATA.parent)
    workdir = root / "project"
    workdir.mkdir()
    run_snakemake(workdir, "--cores", "2", "--configfile", *CONFIGS)
    return workdir


def test_every_test_interval_is_cut_out_of_the_corpus(run):
    results = run / "results"
    manifest = json.loads((results / "corpus" / "k6" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["chromosomes"]] == ["chr20", "chr21"]  # no test chromosome
    assert manifest["mask"]["bases_removed"] > 50_000  # the coordinate tasks' test intervals
    for task in COORDINATE_TASKS:
        rows = {row["split"]: row for row in _tsv(results / "datasets" / task / "qc" / "corpus_overlap.tsv")}
        assert int(rows["test"]["rows_with_coordinates"]) == int(rows["test"]["rows"]) > 0
        assert rows["test"]["overlap_bp"] == "0" and rows["test"]["rows_overlapping"] == "0"
        assert int(rows["train"]["overlap_bp"]) > 0  # train is pretrained on, as it may be
    tables = {row["split"]: row for row in _tsv(results / "datasets" / "ctcf" / "qc" / "corpus_overlap.tsv")}
    assert tables["test"]["rows_with_coordinates"] == "0"  # sequence tables cannot be located


def test_benchmarks_published_figures_learning_curve_and_report(run):
    results = run / "results"
    summary = _tsv(results / "benchmarks" / "summary.tsv")
    models = {(row["task"], row["model"]) for row in summary}
    for task in TASKS:
        assert {(task, m) for m in ("dnabert", "bert_scratch", "kmer_lr", "cnn")} <= models
    published = [row for row in summary if row["source"]]
    assert {row["task"] for row in published} == set(COORDINATE_TASKS)
    assert all(row["model"] == "CNN (published)" and row["accuracy_mean"] for row in published)
    datasets = {task: json.loads((results / "datasets" / task / "qc" / "summary.json").read_text())
                for task in TASKS}
    assert datasets["human_ensembl_regulatory"]["rows"]["test"] == 264  # the benchmark's test set, whole
    curve = _tsv(results / "learning_curve" / "summary.tsv")
    assert {(row["model"], float(row["fraction"])) for row in curve} == {
        (m, f) for m in ("dnabert", "bert_scratch", "kmer_lr", "cnn") for f in (0.2, 1.0)}
    sizes = {float(row["fraction"]): int(row["train_sequences"]) for row in curve if row["model"] == "dnabert"}
    assert sizes[0.2] == pytest.approx(0.2 * sizes[1.0], abs=2)
    assert all(row["runs"] == "2" for row in curve if row["model"] != "kmer_lr" or row["fraction"] != "1")
    assert (results / "learning_curve" / "curves.png").stat().st_size > 0
    tomtom = sorted((results / "interpret" / "ctcf").glob("seed*/*/tomtom.tsv"))  # every seed x engine
    assert {path.parent.name for path in tomtom} == {"attention", "modisco"}
    report = (results / "report.html").read_bytes()
    assert len(report) > 100_000 and b"learning_curves.html" in report
