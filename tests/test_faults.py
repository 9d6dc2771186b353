"""Fault tests: SIGTERM and kill -9 of prepare_genome and of a dataset job, then a rerun.

Snakemake runs the tiny config (tests/config/tiny.yaml) in a temporary directory.
tests/faults/sitecustomize.py pauses the job at a point where it has partial
files on disk (the genome half compressed in its temporary folder; the dataset's
train split written, dev opened) and the test signals the job's own process:

* SIGTERM: the job turns it into an exception, its ``with`` blocks remove their
  temporary files, and it exits 143; nothing of it is left.
* kill -9: nothing can clean up; the temporary files stay until the rerun's job
  sweeps them at start (their owner pid is gone).

Either way the rerun completes, its outputs are byte-identical to an undisturbed
run's, and no temporary file is left anywhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, TINY

pytestmark = pytest.mark.workflow

FAULTS = REPO / "tests" / "faults"
GENOME_OUTPUTS = ["resources/genome/tiny/genome.fa.gz", "resources/genome/tiny/genome.fa.gz.fai",
                  "resources/genome/tiny/genome.fa.gz.gzi", "resources/genome/tiny/chrom.sizes"]  # fmt: skip
DATASET_OUTPUTS = [f"results/datasets/ctcf/{split}.tsv.gz" for split in ("train", "dev", "test")]
# Where each job is paused: after 2,000 of the genome's 60-bp lines; inside the second of the
# dataset's three atomic writes (train written to its temporary file, dev's opened).
PAUSES = {
    "prepare_genome": ("dnabert.data.genome:_rewrap:gen:2000", GENOME_OUTPUTS),
    "task_dataset": ("dnabert.data.datasets:atomic_path:cm:2", DATASET_OUTPUTS),
}


def snakemake(workdir: Path, targets: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--cores", "1", *targets, "--configfile", TINY]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})  # fmt: skip


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def temp_files(workdir: Path) -> list[str]:
    """Temporary files and folders of the workflow's outputs (dnabert.io.TEMP_PATTERN) anywhere in ``workdir``."""
    from dnabert.io import TEMP_PATTERN

    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob(".*.tmp") if TEMP_PATTERN.match(p.name))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An undisturbed run up to the ctcf dataset (genome prepared on the way)."""
    workdir = tmp_path_factory.mktemp("reference")
    code, out = finish(snakemake(workdir, DATASET_OUTPUTS))
    assert code == 0, out[-3000:]
    return workdir


def copy_up_to(reference: Path, destination: Path, keep: str) -> None:
    """``reference`` with everything made after ``keep`` (the stage before the faulty job) removed."""
    shutil.copytree(reference, destination, symlinks=True)
    for relative in ["results", "logs/task_dataset", "benchmarks/task_dataset"] + (
        ["resources/genome", "logs/prepare_genome", "logs/prepare_blacklist"] if keep == "simulated" else []
    ):
        shutil.rmtree(destination / relative, ignore_errors=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
@pytest.mark.parametrize("job", ["prepare_genome", "task_dataset"])
def test_killed_job_leaves_no_junk_after_a_rerun(reference, tmp_path, job, signum):
    pause, outputs = PAUSES[job]
    workdir = tmp_path / "run"
    copy_up_to(reference, workdir, "simulated" if job == "prepare_genome" else "genome")
    marker = tmp_path / "paused"
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")])),
           "DNABERT_TEST_PAUSE": pause, "DNABERT_TEST_PAUSE_MARKER": str(marker)}  # fmt: skip
    process = snakemake(workdir, DATASET_OUTPUTS, env)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert process.poll() is None, f"{job} ended before its pause:\n{process.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"{job} never reached its pause"
        time.sleep(0.1)
    partial = temp_files(workdir)
    assert partial, f"{job}: no temporary file to clean up at the pause"
    os.kill(int(marker.read_text()), signum)
    code, out = finish(process)
    assert code != 0, out[-3000:]
    if signum == signal.SIGTERM:
        assert temp_files(workdir) == [], out[-3000:]  # removed by the job itself, on the way out
        log = (workdir / "logs" / job / f"{'tiny' if job == 'prepare_genome' else 'ctcf'}.log").read_text()
        assert "stopped by SIGTERM; partial outputs removed" in log
    else:
        assert temp_files(workdir) == partial  # nothing could clean up a kill -9
    assert not any((workdir / path).exists() for path in outputs)  # Snakemake removed the failed job's outputs

    code, out = finish(snakemake(workdir, DATASET_OUTPUTS))
    assert code == 0, out[-3000:]
    assert temp_files(workdir) == []
    for path in GENOME_OUTPUTS + DATASET_OUTPUTS:
        assert (workdir / path).read_bytes() == (reference / path).read_bytes(), path
    if signum == signal.SIGKILL:
        log = (workdir / "logs" / job / f"{'tiny' if job == 'prepare_genome' else 'ctcf'}.log").read_text()
        assert "left by an interrupted job" in log
