"""Coordinate tasks: Genomic Benchmarks folders and BED + label cut from the genome, real and synthetic."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pysam
import pytest
import yaml

from conftest import REPO, run_snakemake, shared_file
from dnabert.config.coordinates import expand_folders, folder_files
from dnabert.config.validation import validate_config
from dnabert.data.coordinates import read_benchmark_csv
from dnabert.data.datasets import build_dataset
from dnabert.io import ConfigError
from dnabert.sequence import reverse_complement

BENCHMARKS = "hg38/genomic_benchmarks_chr20_21_10M"
GENOME = "hg38/grch38.chr20_and_21_10M.fa.gz"
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"
SPLITS = {"dev": ["chrB"], "test": ["chrC"], "seed": 3}


def outputs(root, task):
    out = {s: root / task / f"{s}.tsv.gz" for s in ("train", "dev", "test")}
    return out | {"duplicates": root / task / "qc" / "duplicates.json"}


def build_folder(tmp_path, dataset: str, **settings):
    files = folder_files(str(shared_file(f"{BENCHMARKS}/{dataset}")))
    cfg = {"type": "coordinates", "files": files, "classes": None, "dev_fraction": 0.1, "dedup": "auto", **settings}
    out = outputs(tmp_path, dataset)
    frames = build_dataset(dataset, cfg, {f"table_{i}": f["path"] for i, f in enumerate(files)},
                           {"dev": ["chr8"], "test": ["chr9"], "seed": 1}, out, shared_file(GENOME))
    return frames, out


def assert_matches_genome(frame, genome):
    for row in frame.itertuples():
        expected = genome.fetch(row.chrom, int(row.start), int(row.end)).upper()
        assert row.sequence == (reverse_complement(expected) if row.strand == "-" else expected), row


@pytest.mark.realdata
def test_ensembl_regulatory_keeps_the_benchmark_split_and_cuts_the_genome(tmp_path):
    frames, out = build_folder(tmp_path, "human_ensembl_regulatory")
    report = json.loads(out["duplicates"].read_text())
    # The files' own split: 1,149 train intervals (dev carved from them) and all 264 test intervals.
    assert report["before"]["within"]["train"]["rows"] + report["before"]["within"]["dev"]["rows"] == 1149
    assert len(frames["test"]) == 264 and report["removed"]["test"] == 0 and report["removed"]["dev"] == 0
    assert len(frames["train"]) + report["removed"]["train"] + len(frames["dev"]) == 1149
    assert abs(len(frames["dev"]) - 115) <= 5
    # Labels from the sorted class names; the source column is the class.
    for frame in frames.values():
        assert dict(frame.groupby("source")["label"].first()) == {"enhancer": 0, "ocr": 1, "promoter": 2}
    test_counts = frames["test"]["source"].value_counts().to_dict()
    assert test_counts == {"promoter": 103, "ocr": 91, "enhancer": 70}
    with pysam.FastaFile(str(shared_file(GENOME))) as genome:
        for frame in frames.values():
            assert_matches_genome(frame.sample(20, random_state=1), genome)
    assert set(frames["test"]["strand"]) == {"+"}  # empty strand is read as +


@pytest.mark.realdata
def test_minus_strand_intervals_are_reverse_complemented(tmp_path):
    frames, _ = build_folder(tmp_path, "human_nontata_promoters", classes=["negative", "positive"], dev_fraction=0.2)
    rows = sum(len(f) for f in frames.values())
    assert rows == 83 + 23 and len(frames["test"]) == 23
    minus = [f[f["strand"] == "-"] for f in frames.values()]
    assert sum(len(m) for m in minus) == 6 + 39 + 1 + 8
    with pysam.FastaFile(str(shared_file(GENOME))) as genome:
        for part in minus:
            assert_matches_genome(part, genome)
    positive = frames["test"][frames["test"]["source"] == "positive"]
    assert (positive["label"] == 1).all() and len(positive) == 21


@pytest.mark.realdata
def test_benchmark_rows_are_read_as_written():
    path = shared_file(f"{BENCHMARKS}/human_ensembl_regulatory/test/ocr.csv.gz")
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()[1:]
    regions = read_benchmark_csv(path, "ocr")
    first = lines[0].split(",")
    assert len(regions) == len(lines) == 91
    assert (regions.ids[0], regions.intervals.chrom[0], int(regions.intervals.start[0]),
            int(regions.intervals.end[0])) == (first[0], first[1], int(first[2]), int(first[3]))
    assert regions.lines[0] == 2 and set(regions.classes) == {"ocr"}


def test_bed_with_label_column_and_chromosome_hold_out(tmp_path, small_genome):
    """BED6 + label files: one with a split, one without (chromosome hold-out); integer labels kept."""
    rng = np.random.default_rng(4)
    with pysam.FastaFile(str(small_genome["fasta"])) as genome:
        sizes = dict(zip(genome.references, genome.lengths))
        rows = []
        for chrom in ("chrA", "chrB", "chrC"):
            for i in range(40):
                start = int(rng.integers(0, sizes[chrom] - 300))
                rows.append(f"{chrom}\t{start}\t{start + 50 + i}\tr{chrom}{i}\t0\t{'+-'[i % 2]}\t{i % 2}\n")
        (tmp_path / "held.bed").write_text("".join(rows[:80]))  # chrA and chrB: split by chromosome
        (tmp_path / "given.bed").write_text("".join(rows[80:]))  # chrC rows, given as train
        cfg = {"type": "coordinates", "files": [{"path": str(tmp_path / "held.bed")},
                                                {"path": str(tmp_path / "given.bed"), "split": "train"}]}
        out = outputs(tmp_path, "bed")
        frames = build_dataset("bed", cfg, {"table_0": cfg["files"][0]["path"], "table_1": cfg["files"][1]["path"]},
                               SPLITS, out, small_genome["fasta"])
        assert set(frames["dev"]["chrom"]) == {"chrB"} and set(frames["train"]["chrom"]) == {"chrA", "chrC"}
        assert frames["test"].empty  # chrC rows were given as train; no other file has test rows
        for frame in frames.values():
            assert_matches_genome(frame, genome)
            assert (frame["label"] == frame["name"].str.extract(r"(\d+)$")[0].astype(int) % 2).all()
            assert set(frame["source"]) <= {"0", "1"}
    # Reproducible: the same inputs give byte-identical files.
    again = outputs(tmp_path / "again", "bed")
    build_dataset("bed", cfg, {"table_0": cfg["files"][0]["path"], "table_1": cfg["files"][1]["path"]}, SPLITS,
                  again, small_genome["fasta"])
    assert all(out[s].read_bytes() == again[s].read_bytes() for s in ("train", "dev", "test"))


def test_class_per_file_bed_and_explicit_class_order(tmp_path, small_genome):
    (tmp_path / "a.bed").write_text("chrA\t1000\t1100\nchrA\t5000\t5100\t.\t0\t-\n")
    (tmp_path / "b.bed").write_bytes(b"\xef\xbb\xbfchrA\t9000\t9100\r\nchrA\t12000\t12100\r\n")  # BOM, CRLF
    cfg = {"type": "coordinates", "classes": ["zeta", "alpha"], "dev_fraction": 0.0,
           "files": [{"path": str(tmp_path / "a.bed"), "split": "train", "class": "alpha"},
                     {"path": str(tmp_path / "b.bed"), "split": "train", "class": "zeta"}]}
    frames = build_dataset("c", cfg, {"table_0": cfg["files"][0]["path"], "table_1": cfg["files"][1]["path"]},
                           SPLITS, outputs(tmp_path, "c"), small_genome["fasta"])
    train = frames["train"].sort_values("start")
    assert train["label"].tolist() == [1, 1, 0, 0] and train["strand"].tolist() == ["+", "-", "+", "+"]
    assert train["name"].tolist()[2:] == ["chrA:9000-9100", "chrA:12000-12100"]


def test_folder_becomes_files_in_the_config(tmp_path):
    folder = tmp_path / "bench"
    for split, classes in (("train", ("pos", "neg")), ("test", ("pos", "neg"))):
        (folder / split).mkdir(parents=True)
        for cls in classes:
            (folder / split / f"{cls}.csv.gz").write_bytes(gzip.compress(b"id,region,start,end,strand\n"))
    (folder / "README.md").write_text("not a split\n")
    config = {"tasks": {"gb": {"type": "coordinates", "folder": str(folder)}}}
    assert expand_folders(config) == []
    assert config["tasks"]["gb"]["files"] == [
        {"path": str(folder / "train" / "neg.csv.gz"), "split": "train", "class": "neg"},
        {"path": str(folder / "train" / "pos.csv.gz"), "split": "train", "class": "pos"},
        {"path": str(folder / "test" / "neg.csv.gz"), "split": "test", "class": "neg"},
        {"path": str(folder / "test" / "pos.csv.gz"), "split": "test", "class": "pos"},
    ]
    assert expand_folders(config) == []  # idempotent: folder is gone, files stay
    both = {"tasks": {"gb": {"type": "coordinates", "folder": str(folder), "files": [{"path": "x.bed"}]}}}
    assert expand_folders(both) == ["tasks.gb: give exactly one of folder or files"]
    (folder / "test" / "neg.csv.gz").unlink()
    (folder / "test" / "pos.csv.gz").unlink()
    lacking = {"tasks": {"gb": {"type": "coordinates", "folder": str(folder)}}}
    assert expand_folders(lacking) == [f"tasks.gb.folder: {folder} has no test/<class>.csv.gz files (Genomic "
                                       "Benchmarks layout: {train,test}/{class}.csv.gz)"]


def _config(tmp_path, task: dict) -> dict:
    return {"genome": {"name": "g", "simulate": {"chromosomes": {"chrA": 60000, "chrB": 60000, "chrC": 60000}}},
            "splits": {"dev": ["chrB"], "test": ["chrC"]}, "tasks": {"t": task}}


@pytest.mark.parametrize(("task", "problem"), [
    ({"type": "coordinates", "files": [{"path": "@x.csv", "split": "train"}]},
     "tasks.t.files.0: a Genomic Benchmarks CSV needs class: (every row of the file has it)"),
    ({"type": "coordinates", "files": [{"path": "@x.txt", "class": "a"}]},
     "tasks.t.files.0: cannot tell the format from the file name: add format: (csv, bed)"),
    ({"type": "coordinates", "classes": ["a", "a"], "files": [{"path": "@x.bed", "class": "a"}]},
     "tasks.t.classes: listed twice: a"),
    ({"type": "coordinates", "classes": ["a"], "files": [{"path": "@x.bed", "class": "b"}]},
     "tasks.t.classes: the files' classes b are not listed"),
    ({"type": "coordinates", "dedup": "some", "files": [{"path": "@x.bed"}]},
     "tasks.t.dedup: 'some' is not one of ['auto', 'none', 'within_train', 'train_vs_heldout', 'all']"),
    ({"type": "peaks", "peaks": {"path": "@x.bed"}, "format": "bed", "negatives": {}},
     "tasks.t.negatives: no negatives (none given, or every ratio is 0): the task needs label-0 sequences, "
     "e.g. shuffle: {ratio: 1}"),
])
def test_config_checks_of_coordinate_tasks(tmp_path, task, problem):
    for name in ("x.csv", "x.txt", "x.bed"):
        (tmp_path / name).write_text("")
    text = json.dumps(task).replace("@", f"{tmp_path}/")
    with pytest.raises(ConfigError) as caught:
        validate_config(_config(tmp_path, json.loads(text)), SCHEMA)
    assert caught.value.problems == [problem]


def test_split_chromosomes_are_checked_at_start_against_an_indexed_fasta(tmp_path, small_genome):
    config = {"genome": {"name": "g", "path": str(small_genome["fasta"])}, "splits": {"dev": ["chr8"], "test": ["chrC"]},
              "tasks": {"t": {"type": "coordinates", "files": [{"path": str(tmp_path / "r.bed")}]}}}
    (tmp_path / "r.bed").write_text("chrA\t1\t50\tx\n")
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    assert caught.value.problems == ["splits.dev: not chromosomes of the genome: chr8 (genome: chrA, chrB, chrC)"]
    config["tasks"]["t"]["files"][0]["split"] = "train"  # all rows have a split: the hold-out is not used
    validate_config(config, SCHEMA)


@pytest.mark.workflow
@pytest.mark.realdata
def test_workflow_builds_a_genomic_benchmarks_task_on_the_real_genome(tmp_path):
    """task_dataset and dataset_qc of a coordinates task, with the genome prepared from a path: FASTA."""
    folder = shared_file(f"{BENCHMARKS}/human_enhancers_cohn")
    config = {"genome": {"name": "hg38p", "path": str(shared_file(GENOME))},
              "splits": {"dev": ["chr21"], "test": ["chr20"]},
              "tasks": {"cohn": {"type": "coordinates", "folder": str(folder), "dev_fraction": 0.25}}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/datasets/cohn/{s}.tsv.gz" for s in ("train", "dev", "test")]
    run_snakemake(tmp_path, *targets, "results/datasets/cohn/qc/summary.json", "--cores", "1",
                  "--configfile", str(tmp_path / "c.yaml"))
    summary = json.loads((tmp_path / "results/datasets/cohn/qc/summary.json").read_text())
    assert summary["rows"]["test"] == 41 and summary["rows"]["train"] + summary["rows"]["dev"] <= 88
    assert summary["duplicates"]["dedup"] == "train_vs_heldout" and summary["duplicates"]["removed"]["test"] == 0
    with gzip.open(tmp_path / "results/datasets/cohn/test.tsv.gz", "rt") as handle:
        test = [line.split("\t") for line in handle.read().splitlines()[1:]]
    assert sorted({(row[1], row[7]) for row in test}) == [("0", "negative"), ("1", "positive")]
