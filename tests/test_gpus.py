"""Per-job GPU slots (dnabert.gpus) with faked GPUs: parallel jobs get distinct devices, DDP jobs several,
a job waits while all are taken, a killed job frees its GPUs, SLURM's choice is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from dnabert import gpus
from dnabert.gpus import GpuError, assign_job_gpus, claim_gpus, for_job, visible_gpus

# The job prints its GPUs, then holds them until the file `release` exists (at most 60 s).
REPORT = """import os, time
print(os.environ['CUDA_VISIBLE_DEVICES'], flush=True)
for _ in range(600):
    if os.path.exists({release!r}):
        break
    time.sleep(0.1)
"""


def _job(count: int, slots: Path, visible: str = "0,1,2,3", **extra: str) -> subprocess.Popen:
    """A shell-rule job: python -m dnabert.gpus --gpus N -- python -c (print its GPUs, hold them)."""
    env = {key: value for key, value in os.environ.items() if key != "SLURM_JOB_ID"}
    env.update({"PYTHONPATH": str(REPO / "workflow"), "CUDA_VISIBLE_DEVICES": visible,
                gpus.SLOT_DIR_VARIABLE: str(slots), **extra})  # fmt: skip
    release = str(slots.parent / f"{slots.name}.release")
    command = [sys.executable, "-m", "dnabert.gpus", "--gpus", str(count), "--",
               sys.executable, "-c", REPORT.format(release=release)]  # fmt: skip
    job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job.release = Path(release)  # type: ignore[attr-defined]
    return job


def _gpus_of(*jobs: subprocess.Popen) -> list[list[str]]:
    """Each job's GPUs, read while all of them still hold theirs; then they are released and must succeed."""
    got = [job.stdout.readline().strip().split(",") for job in jobs]
    for job in jobs:
        job.release.touch()
    for job in jobs:
        _, err = job.communicate(timeout=60)
        assert job.returncode == 0, err
    for job in jobs:
        job.release.unlink(missing_ok=True)
    return got


def test_visible_gpus_from_cuda_visible_devices_or_nvidia_smi(tmp_path, monkeypatch):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "0,1,2,3"}) == ["0", "1", "2", "3"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]  # a restricted list is respected
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "GPU-8f2a,GPU-77c1"}) == ["GPU-8f2a", "GPU-77c1"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == [] and visible_gpus({"CUDA_VISIBLE_DEVICES": "3,-1,4"}) == ["3"]
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA H100 (UUID: GPU-2)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert visible_gpus({}) == ["0", "1"]


def test_parallel_jobs_get_their_own_gpus(tmp_path):
    """Four 1-GPU jobs at once on four GPUs: four different devices; then a 2-GPU (DDP) job beside two 1-GPU jobs."""
    slots = tmp_path / "slots"
    assigned = _gpus_of(*[_job(1, slots) for _ in range(4)])
    assert sorted(g for got in assigned for g in got) == ["0", "1", "2", "3"]
    ddp, *single = _gpus_of(_job(2, slots), _job(1, slots), _job(1, slots))
    assert len(ddp) == 2 and sorted(ddp + single[0] + single[1]) == ["0", "1", "2", "3"]
    # slots index into a restricted CUDA_VISIBLE_DEVICES
    assert sorted(_gpus_of(_job(2, tmp_path / "other", visible="4,6"))[0]) == ["4", "6"]


def test_a_job_waits_while_every_gpu_is_taken_and_a_killed_job_frees_its_gpu(tmp_path):
    first = claim_gpus(1, ["0", "1"], tmp_path)
    second = claim_gpus(1, ["0", "1"], tmp_path)
    assert sorted(first.gpus + second.gpus) == ["0", "1"]
    started = time.monotonic()
    with pytest.raises(GpuError, match="no 1 free GPU slot"):
        claim_gpus(1, ["0", "1"], tmp_path, timeout=0.5, poll=0.1)
    assert time.monotonic() - started >= 0.5
    with pytest.raises(GpuError, match="asks for 3 GPU"):  # more than the machine has: at once
        claim_gpus(3, ["0", "1"], tmp_path, timeout=10)
    first.release()
    assert claim_gpus(1, ["0", "1"], tmp_path, timeout=1).gpus == first.gpus
    second.release()
    # a job killed while it holds a GPU: the kernel drops its lock
    holder = _job(1, tmp_path / "kill", visible="7")
    assert holder.stdout.readline().strip() == "7"
    with pytest.raises(GpuError):
        claim_gpus(1, ["7"], tmp_path / "kill", timeout=0.3, poll=0.1)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert claim_gpus(1, ["7"], tmp_path / "kill", timeout=5).gpus == ["7"]


def test_slurm_jobs_keep_what_slurm_gave_them(tmp_path):
    env = {"SLURM_JOB_ID": "123", "CUDA_VISIBLE_DEVICES": "5", gpus.SLOT_DIR_VARIABLE: str(tmp_path)}
    assert assign_job_gpus(2, env) is None and env["CUDA_VISIBLE_DEVICES"] == "5"
    assert not list(tmp_path.iterdir())
    assert _gpus_of(_job(1, tmp_path / "slurm", visible="5", SLURM_JOB_ID="123")) == [["5"]]
    assert not (tmp_path / "slurm").exists()


def test_script_rules_claim_before_their_body(tmp_path, monkeypatch):
    """A script job (workflow/scripts/_glue.py) with resources gpu=1 sees only its GPU; a CPU job is untouched."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setenv(gpus.SLOT_DIR_VARIABLE, str(tmp_path))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setattr(gpus, "_held", [])
    seen = []
    for_job({"gpu": 0, "mem_mb": 1000}, lambda: seen.append(os.environ["CUDA_VISIBLE_DEVICES"]))()
    for_job({"gpu": 1}, lambda: seen.append(os.environ["CUDA_VISIBLE_DEVICES"]))()
    assert seen == ["0,1", "0"]
    for claim in gpus._held:
        claim.release()
