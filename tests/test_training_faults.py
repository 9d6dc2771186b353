"""Fault tests: SIGTERM and kill -9 of a pretraining and of a fine-tuning job (``python -m`` subprocesses on
tiny data), each followed by a rerun that must end with the results of an uninterrupted run and no junk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from conftest import REPO
from dnabert.lm.checkpointing import PREEMPTED_EXIT
from dnabert.lm.finetune import RunOutputs, finetune, main as finetune_main
from dnabert.lm.pretrain.cli import parse_args, run as pretrain_run
from dnabert.lm.pretrain.pipeline import train
from dnabert.lm.pretrain.settings import Outputs
from dnabert.lm.tensorboard_log import read_scalars
from test_finetune import K, TINY, tiny_settings, write_task
from test_pretrain import DEV, SETTINGS, build_tiny_corpus

ENV = {**os.environ, "PYTHONPATH": str(REPO / "workflow"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PRETRAIN = replace(SETTINGS, steps=12, checkpoint_every_steps=3, eval_every_steps=100)
FINETUNE = {"init": "scratch", "scratch_model": TINY, "lr": 2e-3, "epochs": 4, "batch_size": 16,
            "eval_every_steps": 5, "patience": None}  # fmt: skip
SEED = 7


def start_and_interrupt(command: list[str], wait_for: Path, signum: int, timeout: float = 240) -> int:
    """Start a job, send it ``signum`` once ``wait_for`` exists (a checkpoint: the loop runs), return its status."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not wait_for.exists():
        if process.poll() is not None:
            raise AssertionError(f"job ended before {wait_for} appeared:\n{process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{wait_for} did not appear in {timeout} s")
        time.sleep(0.01)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=timeout)
    if signum == signal.SIGTERM:
        assert "checkpoint written" in stderr, stderr[-3000:]
    return process.returncode


def hidden_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".*"))


def plant_leftovers(*paths: Path) -> None:
    """What writes killed by SIGKILL leave: hidden temporary files (``*.tmp``) and directories beside targets."""
    for path in paths:
        if path.suffix == ".tmp":
            path.write_text("partial")
        else:
            path.mkdir(parents=True)
            (path / "model.safetensors").write_text("partial")


# --------------------------------------------------------------------------- pretraining


def pretrain_args(corpus: Path, out: Path) -> list[str]:
    section = {key: value for key, value in asdict(PRETRAIN).items() if key != "k"}
    return ["--corpus", str(corpus), "--kmer", "6", "--settings", json.dumps(section), "--dev-chromosomes", *DEV,
            "--device", "cpu", "--threads", "1", "--model", str(out / "model"), "--metrics", str(out / "metrics.json"),
            "--history", str(out / "training_log.csv"), "--plot", str(out / "loss.png"),
            "--checkpoints", str(out / "checkpoints"), "--tensorboard", str(out / "tensorboard")]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return build_tiny_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def pretrained(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain_uninterrupted")
    train(PRETRAIN, corpus, Outputs.under(out), DEV, threads=1, progress=False)
    return out


def assert_same_pretraining(reference: Path, out: Path) -> None:
    weights = Path("model") / "model.safetensors"
    assert (out / weights).read_bytes() == (reference / weights).read_bytes()
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (out, reference))
    for key in ("steps", "tokens", "epochs", "padding_fraction", "eval", "model"):
        assert ours[key] == theirs[key], key
    expected = ["checkpoints", "loss.png", "metrics.json", "model", "tensorboard", "training_log.csv"]
    assert sorted(p.name for p in out.iterdir()) == expected
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["step_00000009", "step_00000012"]
    assert hidden_files(out) == []
    assert [step for step, _ in read_scalars(out / "tensorboard")["held_out/loss"]] == [12]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_pretraining_job_interrupted_then_rerun(corpus, pretrained, tmp_path, signum):
    command = [sys.executable, "-m", "dnabert.lm.pretrain", *pretrain_args(corpus, tmp_path)]
    status = start_and_interrupt(command, tmp_path / "checkpoints" / "step_00000003", signum)
    assert status == (PREEMPTED_EXIT if signum == signal.SIGTERM else -signal.SIGKILL)
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model").exists()
    if signum == signal.SIGTERM:  # a clean stop: the checkpoint of the step it stopped at, nothing partial
        assert hidden_files(tmp_path) == []
    else:
        plant_leftovers(tmp_path / ".metrics.json.x1y2z3.tmp", tmp_path / ".model.x1y2z3",
                        tmp_path / "checkpoints" / ".step_00000006.x1y2z3")  # fmt: skip
    assert pretrain_run(parse_args(pretrain_args(corpus, tmp_path))) == 0
    assert_same_pretraining(pretrained, tmp_path)


# --------------------------------------------------------------------------- fine-tuning


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("task") / "demo"
    write_task(folder)
    return folder


@pytest.fixture(scope="module")
def finetuned(task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finetune_uninterrupted")
    data = {split: task / f"{split}.tsv.gz" for split in ("train", "dev", "test")}
    finetune(tiny_settings(**FINETUNE), data, RunOutputs.under(out), k=K, seed=SEED, task="demo", device="cpu",
             threads=1, progress=False)  # fmt: skip
    return out


def finetune_args(task: Path, out: Path) -> list[str]:
    return ["--data", str(task), "--out", str(out), "--kmer", str(K), "--seed", str(SEED),
            "--settings", json.dumps(FINETUNE), "--device", "cpu", "--threads", "1"]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_finetuning_job_interrupted_then_rerun(task, finetuned, tmp_path, signum):
    command = [sys.executable, "-m", "dnabert.lm.finetune", *finetune_args(task, tmp_path)]
    status = start_and_interrupt(command, tmp_path / "checkpoints" / "step_00000005", signum)
    assert status == (PREEMPTED_EXIT if signum == signal.SIGTERM else -signal.SIGKILL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints", "tensorboard"]  # no partial outputs
    if signum == signal.SIGTERM:
        assert hidden_files(tmp_path) == []
    else:
        plant_leftovers(tmp_path / ".predictions.tsv.x1y2z3.tmp", tmp_path / ".model.x1y2z3",
                        tmp_path / "checkpoints" / ".step_00000010.x1y2z3")  # fmt: skip
    assert finetune_main(finetune_args(task, tmp_path)) == 0
    for name in ("metrics.json", "predictions.tsv", "model/model.safetensors", "model/config.json"):
        assert (tmp_path / name).read_bytes() == (finetuned / name).read_bytes(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "metrics.json", "model", "predictions.tsv",
                                                          "tensorboard"]  # fmt: skip
    assert hidden_files(tmp_path) == []
    steps = [step for step, _ in read_scalars(tmp_path / "tensorboard")["train/loss"]]
    assert steps == list(range(1, 41))
