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

from conftest import REPO, job_counts, run_snakemake, shared_file

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


def test_hg38_dry_run_works_offline(tmp_path):
    result = run_snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "hg38.yaml"))
    counts = job_counts(result.stdout)
    assert counts == {"download": 2, "prepare_genome": 1, "prepare_blacklist": 1, "build_corpus": 1, "all": 1}
    assert "simulate_genome" not in result.stdout


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """The tiny DAG run twice in two fresh directories."""
    runs = []
    for name in ("first", "second"):
        workdir = tmp_path_factory.mktemp(name)
        run_snakemake(workdir, "--cores", "2", "--configfile", TINY)
        runs.append(workdir)
    return runs


def test_tiny_run_writes_genome_and_simulated_inputs(tiny_runs):
    workdir = tiny_runs[0]
    genome = workdir / "resources" / "genome" / "tiny"
    for name in ("genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi", "chrom.sizes", "blacklist.bed.gz"):
        assert (genome / name).stat().st_size > 0, name
    assert (genome / "chrom.sizes").read_text() == "chrA\t300000\nchrB\t200000\n"
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


def test_tiny_run_is_byte_identical_when_repeated(tiny_runs):
    first, second = (tree_digests(run / "resources") for run in tiny_runs)
    assert first == second and len(first) >= 11


def test_rerun_has_nothing_to_do(tiny_runs):
    result = run_snakemake(tiny_runs[0], "-n", "--configfile", TINY)
    assert "Nothing to be done" in result.stdout + result.stderr


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_rules_against_local_server(tmp_path):
    piece = shared_file("hg38/chr2_1-2333275.fa.gz")
    blacklist = shared_file("hg38/hg38-blacklist.v2.bed.gz")
    root = piece.parents[1]
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: _QuietHandler(*a, directory=str(root), **k)
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
        run_snakemake(tmp_path, "--cores", "1", "--configfile", str(good))
        genome = tmp_path / "resources" / "genome" / "piece"
        assert (genome / "chrom.sizes").read_text() == "chr2\t2333275\n"
        assert gzip.decompress((genome / "blacklist.bed.gz").read_bytes()).decode().count("\n") == 2
        # A wrong checksum fails the download rule and leaves nothing behind.
        bad = write_config(tmp_path / "bad.yaml", "bad", "f" * 32)
        result = run_snakemake(tmp_path, "--cores", "1", "--configfile", str(bad), check=False)
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
