"""Workflow integration: Snakemake on tiny configs, dry runs of real-scale configs, lint."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import http.server
import shutil
import threading
from pathlib import Path

import pysam
import pytest
import yaml

from conftest import REPO, LocalHTTPHandler, job_counts, run_snakemake, shared_file

pytestmark = pytest.mark.workflow
TINY = str(REPO / "tests" / "config" / "tiny.yaml")


def tree_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_default_dry_run_lists_the_dag(tmp_path):
    result = run_snakemake(tmp_path, "-n")
    counts = job_counts(result.stdout)
    assert counts["simulate_genome"] == 1 and counts["prepare_genome"] == 1 and counts["prepare_blacklist"] == 1


# Dry runs of the real-scale configs (hg38, mm10): tests/test_realscale_configs.py.


def test_tiny_run_writes_genome_and_simulated_inputs(tiny_runs):
    workdir = tiny_runs[0]
    genome = workdir / "resources" / "genome" / "tiny"
    for name in ("genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi", "chrom.sizes", "blacklist.bed.gz"):
        assert (genome / name).stat().st_size > 0, name
    assert (genome / "chrom.sizes").read_text() == "chrA\t300000\nchrB\t200000\nchrC\t150000\n"
    with pysam.FastaFile(str(genome / "genome.fa.gz")) as fasta:
        assert fasta.get_reference_length("chrA") == 300000
    simulated = workdir / "resources" / "simulated" / "tiny"
    for name in ("genes.gtf.gz", "truth.tsv", "peaks/CTCF.narrowPeak.gz", "peaks/REST.narrowPeak.gz"):
        assert (simulated / name).stat().st_size > 0, name
    assert (workdir / "logs" / "prepare_genome" / "tiny.log").exists()


def test_tiny_run_builds_corpus_without_test_chromosomes(tiny_runs):
    config = yaml.safe_load(Path(TINY).read_text())
    manifest = json.loads((tiny_runs[0] / "results" / "corpus" / "k6" / "manifest.json").read_text())
    held_out = set(config.get("splits", {}).get("test", []))
    used = {record["name"] for record in manifest["chromosomes"]}
    assert used and not used & held_out
    assert manifest["k"] == 6 and manifest["pieces"] > 100


def test_tiny_run_pretrains_a_model(tiny_runs):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from dnabert.lm import kmer

    base = tiny_runs[0] / "results" / "pretrain"
    metrics = json.loads((base / "metrics.json").read_text())
    config = yaml.safe_load(Path(TINY).read_text())
    assert metrics["steps"] == config["pretrain"]["steps"] and metrics["eval"]["masked_tokens"] > 0
    assert set(config["splits"]["dev"]) <= set(metrics["eval"]["held_out"].split())
    model = AutoModelForMaskedLM.from_pretrained(base / "model")
    assert model.config.num_hidden_layers == config["pretrain"]["model"]["layers"]
    assert AutoTokenizer.from_pretrained(base / "model")("ACGTACG")["input_ids"] == kmer.encode("ACGTACG", 6).tolist()
    assert (base / "loss.png").stat().st_size > 0 and (base / "training_log.csv").read_text().startswith("step,")
    assert not (base / "model" / "config.json").stat().st_mode & 0o222  # protected()


def test_tiny_run_builds_task_datasets(tiny_runs):
    config = yaml.safe_load(Path(TINY).read_text())
    splits = config["splits"]
    assert set(config["tasks"]) == {"ctcf", "prom", "splice"}
    for task in config["tasks"]:
        base = tiny_runs[0] / "results" / "datasets" / task
        for split in ("train", "dev", "test"):
            with gzip.open(base / f"{split}.tsv.gz", "rt") as handle:
                lines = handle.read().splitlines()
            assert lines[0] == "sequence\tlabel\tchrom\tstart\tend\tstrand\tname\tsource", task
            rows = [line.split("\t") for line in lines[1:]]
            assert rows, (task, split)
            chroms = {row[2] for row in rows if row[2]}
            expected = {"dev": set(splits["dev"]), "test": set(splits["test"])}.get(split, {"chrA"})
            assert chroms == expected, (task, split, chroms)
            assert all(set(row[0]) <= set("ACGT") for row in rows)
            assert {row[1] for row in rows} >= {"0", "1"}
        summary = json.loads((base / "qc" / "summary.json").read_text())
        assert summary["sequences_in_two_splits"] == 0 and summary["intervals_overlapping_another_split"] == 0
        for name in ("counts.tsv", "composition.tsv", "gc_content.png"):
            assert (base / "qc" / name).stat().st_size > 0, (task, name)
    splice = (tiny_runs[0] / "results" / "datasets" / "splice" / "qc" / "counts.tsv").read_text()
    assert {"donor", "acceptor", "nonsplice", "decoy_GT", "decoy_AG"} <= set(splice.split())
    assert (tiny_runs[0] / "logs" / "task_dataset" / "ctcf.log").exists()


def test_tiny_datasets_are_byte_identical_when_repeated(tiny_runs):
    first, second = (
        {k: v for k, v in tree_digests(run / "results" / "datasets").items() if not k.endswith(".png")}
        for run in tiny_runs
    )
    assert first == second and len(first) == 3 * 8  # train, dev, test + 5 QC files per task


def test_table_task_from_url_and_fasta(tmp_path):
    """A table task: one CSV per split downloaded through the download rule, plus a FASTA split at random."""
    served = tmp_path / "served"
    served.mkdir()
    rng = __import__("random").Random(5)
    def seqs(n):
        return ["".join(rng.choice("ACGT") for _ in range(60)) for _ in range(n)]
    for split in ("train", "dev", "test"):
        (served / f"{split}.csv").write_text(
            "sequence,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(seqs(12))))
    fasta = tmp_path / "extra.fa"
    fasta.write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(seqs(40))))
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: LocalHTTPHandler(*a, directory=str(served), **k)
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    files = [
        {"url": f"{url}/{split}.csv", "md5": hashlib.md5((served / f"{split}.csv").read_bytes()).hexdigest(),
         "split": split}
        for split in ("train", "dev", "test")
    ] + [{"path": str(fasta), "label": 1}]
    config = {
        "genome": {"name": "t", "simulate": {"chromosomes": {"c1": 60000}, "genes": 1,
                                             "tfs": [{"name": "CTCF", "motif": "MA0139.2", "peaks": 5}]}},
        "tasks": {"tab": {"type": "table", "files": files, "random_split": {"dev": 0.25, "test": 0.25}}},
    }
    (tmp_path / "table.yaml").write_text(yaml.safe_dump(config))
    targets = [f"results/datasets/tab/{split}.tsv.gz" for split in ("train", "dev", "test")]
    try:
        result = run_snakemake(tmp_path, *targets, "results/datasets/tab/qc/summary.json", "--cores", "1",
                               "--configfile", str(tmp_path / "table.yaml"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "simulate_genome" not in result.stdout + result.stderr  # tables need no genome
    assert (tmp_path / "resources" / "download" / "t" / "task.tab.table_0.train.csv").exists()
    counts = {}
    for split in ("train", "dev", "test"):
        with gzip.open(tmp_path / f"results/datasets/tab/{split}.tsv.gz", "rt") as handle:
            rows = [line.split("\t") for line in handle.read().splitlines()[1:]]
        counts[split] = {source: sum(row[7] == source for row in rows) for source in {row[7] for row in rows}}
    assert counts["train"]["train.csv"] == 12 and counts["dev"]["dev.csv"] == 12
    assert sum(c.get("extra.fa", 0) for c in counts.values()) == 40
    assert counts["test"]["extra.fa"] == 10 and counts["dev"]["extra.fa"] == 10


def _first_tiny_task() -> str:
    return next(iter(yaml.safe_load(Path(TINY).read_text())["tasks"]))


def test_single_benchmark_request_builds_only_what_it_needs(tmp_path):
    task = _first_tiny_task()
    finetune = job_counts(run_snakemake(tmp_path, "-n", f"results/finetune/{task}/metrics.json",
                                        "--configfile", TINY).stdout)  # fmt: skip
    # One seed in the tiny config; the genome, corpus and pretraining it starts from; no other task's
    # training. Every task's dataset is built: the corpus leaves out every task's test intervals.
    n_tasks = len(yaml.safe_load(Path(TINY).read_text())["tasks"])
    assert finetune.pop("finetune_seed") == 1 and finetune.pop("finetune_task") == 1
    assert finetune.pop("task_dataset") == n_tasks and finetune.pop("pretrain_mlm") == 1
    assert set(finetune) <= {"simulate_genome", "prepare_genome", "prepare_blacklist", "corpus_exclusion",
                             "build_corpus"}  # fmt: skip
    baseline = job_counts(run_snakemake(tmp_path, "-n", f"results/baselines/{task}/kmer_lr/metrics.json",
                                        "--configfile", TINY).stdout)  # fmt: skip
    assert baseline.pop("baseline") == 1 and baseline.pop("task_dataset") == 1
    assert set(baseline) <= {"simulate_genome", "prepare_genome", "prepare_blacklist"}  # no corpus, no pretraining
    seed = job_counts(run_snakemake(tmp_path, "-n", f"results/finetune/{task}/seed7/metrics.json",
                                    "--configfile", TINY).stdout)  # fmt: skip
    assert seed["finetune_seed"] == 1 and "finetune_task" not in seed
    # The default config runs three seeds per task; `finetune` asks for every task's runs and nothing else.
    named = job_counts(run_snakemake(tmp_path, "-n", "finetune").stdout)
    tasks = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tasks"]
    assert named["finetune_seed"] == 3 * len(tasks) and "baseline" not in named and "dataset_qc" not in named


def test_gue_config_makes_one_task_per_benchmark_folder(tmp_path):
    for name in ("EMP/H3", "virus/covid"):
        folder = tmp_path / "GUE" / name
        folder.mkdir(parents=True)
        for split in ("train", "dev", "test"):
            shutil.copy(shared_file(f"dnabert2/DNABERT2_sample_data_{split}.csv"), folder / f"{split}.csv")
    result = run_snakemake(tmp_path, "-n", "benchmarks", "--configfile", str(REPO / "config" / "gue.yaml"),
                           "--config", f"finetune={{gue: {{folder: {tmp_path / 'GUE'}}}}}")  # fmt: skip
    counts = job_counts(result.stdout)
    assert counts["task_dataset"] == 2 and counts["finetune_seed"] == 6 and counts["baseline"] == 4
    assert "results/finetune/EMP_H3/metrics.json" in result.stdout and "simulate_genome" not in counts
    missing = run_snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "gue.yaml"), "--config",
                            f"finetune={{gue: {{folder: {tmp_path / 'nowhere'}}}}}", check=False)  # fmt: skip
    assert missing.returncode != 0 and "finetune.gue.folder: not a directory" in missing.stdout + missing.stderr


def test_tiny_run_fine_tunes_and_benchmarks_every_task(tiny_runs):
    config = yaml.safe_load(Path(TINY).read_text())
    results = tiny_runs[0] / "results"
    for task in config["tasks"]:
        metrics = json.loads((results / "finetune" / task / "metrics.json").read_text())
        assert metrics["model"] == "dnabert" and list(metrics["runs"]) == ["1"]
        assert {"mcc", "auroc", "accuracy"} <= set(metrics["mean"]) and metrics["headline"] == "mcc"
        run = results / "finetune" / task / "seed1"
        assert (run / "model" / "model.safetensors").is_file() and (run / "predictions.tsv").stat().st_size
        for baseline in ("bert_scratch", "kmer_lr", "cnn"):
            assert json.loads((results / "baselines" / task / baseline / "metrics.json").read_text())["runs"]
        scratch = json.loads((results / "baselines" / task / "bert_scratch" / "seed1" / "metrics.json").read_text())
        assert scratch["init"] == "scratch" and scratch["encoder"] is None
    table = (results / "benchmarks" / "summary.tsv").read_text().splitlines()
    assert table[0].startswith("task\tmodel\truns\tcollapsed") and len(table) == 1 + 4 * len(config["tasks"])
    assert {line.split("\t")[1] for line in table[1:]} == {"dnabert", "bert_scratch", "kmer_lr", "cnn"}
    assert (results / "benchmarks" / "summary.png").stat().st_size > 0
    predictions = (results / "predict" / "ctcf_peaks.tsv").read_text().splitlines()
    assert predictions[0].startswith("id\tchrom\tstart\tend\tstrand\tlength\twindows")
    assert len(predictions) == 1 + config["genome"]["simulate"]["tfs"][0]["peaks"]


def test_tiny_fine_tuning_is_deterministic(tiny_runs):
    def test_metrics(run: Path) -> dict:
        found = {}
        for path in sorted((run / "results").glob("*/*/**/metrics.json")):
            data = json.loads(path.read_text())
            found[str(path.relative_to(run))] = data.get("test") or data.get("runs")
        return found

    first, second = (test_metrics(run) for run in tiny_runs)
    assert first == second and any("finetune" in key for key in first)


def test_tiny_run_is_byte_identical_when_repeated(tiny_runs):
    first, second = (tree_digests(run / "resources") for run in tiny_runs)
    assert first == second and len(first) >= 11


def test_rerun_has_nothing_to_do(tiny_runs):
    result = run_snakemake(tiny_runs[0], "-n", "--configfile", TINY)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_download_rules_against_local_server(tmp_path):
    piece = shared_file("hg38/chr2_1-2333275.fa.gz")
    blacklist = shared_file("hg38/hg38-blacklist.v2.bed.gz")
    root = piece.parents[1]
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: LocalHTTPHandler(*a, directory=str(root), **k)
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    def write_config(path: Path, name: str, md5: str) -> Path:
        path.write_text(
            f"genome:\n  name: {name}\n  url: {url}/hg38/chr2_1-2333275.fa.gz\n  md5: {md5}\n"
            f"  blacklist: {{url: {url}/hg38/hg38-blacklist.v2.bed.gz, "
            f"sha256: {hashlib.sha256(blacklist.read_bytes()).hexdigest()}}}\n"
        )
        return path

    try:
        good = write_config(tmp_path / "piece.yaml", "piece", hashlib.md5(piece.read_bytes()).hexdigest())
        # the genome only: the default targets would pretrain DNABERT-base (the schema default) on a CPU
        run_snakemake(tmp_path, "resources/genome/piece/chrom.sizes", "resources/genome/piece/blacklist.bed.gz",
                      "--cores", "1", "--configfile", str(good))
        genome = tmp_path / "resources" / "genome" / "piece"
        assert (genome / "chrom.sizes").read_text() == "chr2\t2333275\n"
        assert gzip.decompress((genome / "blacklist.bed.gz").read_bytes()).decode().count("\n") == 2
        # A wrong checksum fails the download rule and leaves nothing behind.
        bad = write_config(tmp_path / "bad.yaml", "bad", "f" * 32)
        # --keep-going: the blacklist download runs whichever download the scheduler starts first
        result = run_snakemake(tmp_path, "resources/genome/bad/chrom.sizes", "resources/genome/bad/blacklist.bed.gz",
                               "--keep-going", "--cores", "1", "--configfile", str(bad), check=False)
        assert result.returncode != 0
        assert "md5 mismatch" in result.stdout + result.stderr
        downloaded = sorted(p.name for p in (tmp_path / "resources" / "download" / "bad").iterdir())
        assert downloaded == ["blacklist.bed.gz"]  # the good file only; no genome, no temp file
        assert not (tmp_path / "resources" / "genome" / "bad").exists()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_lint_is_clean():
    result = run_snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_snakefmt_formatting():
    snakefmt = shutil.which("snakefmt") or str(Path(sys.executable).parent / "snakefmt")
    result = subprocess.run([snakefmt, "--check", "Snakefile", "workflow/rules"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
