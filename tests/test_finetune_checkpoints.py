"""Fine-tuning checkpoints: resume after SIGTERM or a crash to byte-identical outputs, the fall-back past a
truncated checkpoint, fingerprints, and TensorBoard event files (tiny tasks, CPU, seconds)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
from pathlib import Path

import pytest

import dnabert.lm.finetune.loop as finetune_loop
from dnabert.lm.checkpointing import Preempted
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune
from dnabert.lm.tensorboard_log import read_scalars
from test_finetune import K, tiny_settings, write_task

SEED = 7
OUTPUT_FILES = ("metrics.json", "predictions.tsv", "model/model.safetensors", "model/config.json")


def settings(**overrides) -> FinetuneSettings:
    """20 steps (10 per epoch), dev and a checkpoint every 5 steps, dropout on: resuming must restore its RNG."""
    return tiny_settings(**overrides)


def run(task: dict[str, Path], out: Path, values: FinetuneSettings | None = None) -> dict:
    return finetune(values or settings(), task, RunOutputs.under(out), k=K, seed=SEED, device="cpu", threads=1,
                    progress=False)  # fmt: skip


def history_without_times(out: Path) -> list[str]:
    return [line.rsplit(",", 1)[0] for line in (out / "history.csv").read_text().splitlines()]


def assert_same_outputs(reference: Path, out: Path) -> None:
    """Byte-identical metrics, predictions and weights; the same history apart from its elapsed seconds."""
    for name in OUTPUT_FILES:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert history_without_times(out) == history_without_times(reference)


def assert_no_junk(out: Path) -> None:
    """Nothing but the outputs and the event files: no checkpoints left, no temporary files anywhere."""
    assert sorted(p.name for p in out.iterdir()) == ["history.csv", "metrics.json", "model", "predictions.tsv",
                                                     "tensorboard"]  # fmt: skip
    assert not [p for p in out.rglob(".*")], "temporary files left"


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict[str, Path]:
    return write_task(tmp_path_factory.mktemp("task"))


@pytest.fixture(scope="module")
def uninterrupted(task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    run(task, out)
    return out


class Crash(RuntimeError):
    pass


def interrupt_at(monkeypatch, step: int, how: str) -> None:
    """Make optimizer step ``step`` end in SIGTERM (sent to this process) or in a crash."""
    original = finetune_loop.train_step

    def step_then_interrupt(run, state, batch):
        result = original(run, state, batch)
        if state.step == step:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                raise Crash()
        return result

    monkeypatch.setattr(finetune_loop, "train_step", step_then_interrupt)


@pytest.mark.parametrize("how, stop_step, checkpoint_step", [("sigterm", 7, 7), ("crash", 12, 10)])
def test_resume_gives_byte_identical_outputs(task, uninterrupted, tmp_path, monkeypatch, how, stop_step,
                                             checkpoint_step):  # fmt: skip
    """SIGTERM: checkpoint at once, exit; crash: the last periodic checkpoint survives. A rerun ends identically."""
    interrupt_at(monkeypatch, stop_step, how)
    with pytest.raises(Preempted if how == "sigterm" else Crash):
        run(task, tmp_path)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()][-1:] == [f"step_{checkpoint_step:08d}"]
    assert not (tmp_path / "metrics.json").exists() and not (tmp_path / "model").exists()
    monkeypatch.undo()
    result = run(task, tmp_path)
    assert result["training"]["steps"] == 20
    assert_same_outputs(uninterrupted, tmp_path)
    assert_no_junk(tmp_path)
    # TensorBoard: every step once, although the interrupted attempt logged some of them too
    scalars = read_scalars(tmp_path / "tensorboard")
    assert [step for step, _ in scalars["train/loss"]] == list(range(1, 21))
    assert [step for step, _ in scalars["dev/mcc"]] == [5, 10, 15, 20]
    reference = read_scalars(uninterrupted / "tensorboard")
    assert scalars["train/loss"] == reference["train/loss"] and scalars["dev/loss"] == reference["dev/loss"]


def test_truncated_newest_checkpoint_falls_back_to_an_older_one(task, uninterrupted, tmp_path, monkeypatch, caplog):
    interrupt_at(monkeypatch, 17, "crash")
    with pytest.raises(Crash):
        run(task, tmp_path)
    checkpoints = tmp_path / "checkpoints"
    assert [p.name for p in sorted(checkpoints.iterdir())] == ["step_00000010", "step_00000015"]
    weights = checkpoints / "step_00000015" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5])  # cut inside the safetensors header length
    monkeypatch.undo()
    with caplog.at_level(logging.WARNING, logger="dnabert.lm.checkpointing"):
        run(task, tmp_path)
    warning = next(r.getMessage() for r in caplog.records if "skipping checkpoint" in r.getMessage())
    assert str(weights) in warning and "SafetensorError" in warning
    assert_same_outputs(uninterrupted, tmp_path)
    assert_no_junk(tmp_path)


def test_a_checkpoint_of_other_settings_or_data_is_not_resumed(task, tmp_path, monkeypatch, caplog):
    interrupt_at(monkeypatch, 6, "crash")
    with pytest.raises(Crash):
        run(task, tmp_path)
    monkeypatch.undo()
    with caplog.at_level(logging.INFO):
        result = run(task, tmp_path, settings(lr=1e-3))  # another learning rate: a fresh start
    assert "different configuration" in caplog.text and "resuming" not in caplog.text
    assert result["training"]["steps"] == 20 and not (tmp_path / "checkpoints").exists()
    # checkpoint settings alone do not change the fingerprint; data do
    a = settings()
    from dnabert.lm.finetune.checkpoints import fingerprint

    same = fingerprint(a, task, None, seed=SEED, k=K)
    assert fingerprint(settings(checkpoint_every_minutes=1, keep_checkpoints=5), task, None, seed=SEED, k=K) == same
    assert fingerprint(a, task, None, seed=SEED + 1, k=K) != same
    other = dict(task, train=tmp_path / "train.tsv.gz")
    shutil.copy(task["dev"], other["train"])
    assert fingerprint(a, other, None, seed=SEED, k=K) != same


def test_tensorboard_holds_losses_learning_rate_and_metrics(uninterrupted):
    scalars = read_scalars(uninterrupted / "tensorboard")
    assert {"train/loss", "optimizer/lr", "train/interval_loss", "dev/loss", "dev/mcc", "dev/auroc",
            "speed/train_rows_per_s", "test/mcc", "test/loss"} <= set(scalars)  # fmt: skip
    history = (uninterrupted / "history.csv").read_text().splitlines()
    header, rows = history[0].split(","), [line.split(",") for line in history[1:]]
    dev_loss = [(int(row[0]), float(row[header.index("dev_loss")])) for row in rows]
    assert [(s, pytest.approx(v, rel=1e-6)) for s, v in scalars["dev/loss"]] == dev_loss
    lrs = [value for _, value in scalars["optimizer/lr"]]
    assert max(lrs) == pytest.approx(2e-3) and lrs[0] < lrs[1]  # warm-up, then decay
    test = json.loads((uninterrupted / "metrics.json").read_text())["test"]
    assert scalars["test/mcc"] == [(20, pytest.approx(test["mcc"], abs=1e-6))]


def test_a_pre_empted_learning_rate_search_resumes(task, tmp_path, monkeypatch, caplog):
    """SIGTERM in the second grid value's run: the rerun resumes it, and only re-evaluates the finished first."""
    from dnabert.lm.lr_search import finetune_seed

    values = {"init": "scratch", "scratch_model": {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32},
              "epochs": 2, "batch_size": 16, "eval_every_steps": 5, "patience": None}  # fmt: skip
    grid = [1e-5, 3e-3]

    def search(root: Path) -> float:
        return finetune_seed(values, grid, task, RunOutputs.under(root), root / "lr.json", seed=1, first_seed=1, k=K,
                             task="t", device="cpu", threads=1, progress=False)  # fmt: skip

    reference = tmp_path / "reference"
    chosen = search(reference)
    original = finetune_loop.train_step

    def step_then_sigterm(run, state, batch):
        result = original(run, state, batch)
        if run.settings.lr == grid[1] and state.step == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(finetune_loop, "train_step", step_then_sigterm)
    out = tmp_path / "pre-empted"
    with pytest.raises(Preempted):
        search(out)
    assert (out / ".lr_search" / "lr0.003" / "checkpoints" / "step_00000007").is_dir()
    monkeypatch.undo()
    with caplog.at_level(logging.INFO, logger="dnabert.lm.finetune"):
        assert search(out) == chosen
    resumed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resuming from")]
    assert len(resumed) == 2 and "step 20 of 20" in resumed[0] and "step 7 of 20" in resumed[1]
    for name in ("metrics.json", "predictions.tsv", "model/model.safetensors", "lr.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    assert not (out / ".lr_search").exists() and (out / "tensorboard").is_dir()
