"""Fine-tuning checkpoints: the loop's progress, the run's fingerprint, when to save, saving and resuming.

A checkpoint (``checkpoints/step_NNNNNNNN/`` beside the run's outputs, in
:mod:`dnabert.lm.checkpointing`'s format) holds the model (``model.safetensors``; with
LoRA the peft-wrapped model), the best dev weights so far (``best.safetensors``), the
optimizer, scheduler and RNG states (``training.pt``) and :class:`TrainState`
(``state.json``: step, history, selection, windows). Batches are a pure function of the
seed and the step, so a resumed run on CPU ends with exactly the weights, predictions and
``metrics.json`` of an uninterrupted one.

When: after every dev evaluation (or every ``checkpoint_every_steps`` steps), after any
step once ``checkpoint_every_minutes`` have passed, and on SIGTERM/SIGUSR1. A run resumes
only from a checkpoint with its own fingerprint: the settings that shape training, the
seed, k, and the SHA-256 of the task's split files and of the encoder's files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from dnabert.io import PathLike, file_digest
from dnabert.lm.checkpointing import find_resumable, load_weights, rng_state, set_rng_state, write_checkpoint
from dnabert.lm.finetune.run import Training
from dnabert.lm.finetune.settings import FinetuneSettings

log = logging.getLogger("dnabert.lm.finetune")

FORMAT = 1


@dataclass
class TrainState:
    """The training loop's state, shared by the optimiser steps and the dev evaluations; checkpointed."""

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_value: float | None = None
    best: dict[str, Any] = field(default_factory=dict)
    stale: int = 0  # dev evaluations since the last improvement
    window_loss: float = 0.0  # summed training loss since the last dev evaluation ...
    window_rows: int = 0  # ... over this many rows
    trained_rows: int = 0
    train_seconds: float = 0.0  # in optimizer steps, over every resume
    stopped_early: bool = False
    elapsed: float = 0.0  # seconds since training began, over every resume, until ``started``
    resumed_from: int | None = None
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)  # the best weights (trainable)
    started: float = field(default_factory=time.perf_counter, repr=False)

    def seconds(self) -> float:
        """Seconds since training began, over every resume."""
        return self.elapsed + time.perf_counter() - self.started

    def progress(self) -> dict[str, Any]:
        """What ``state.json`` of a checkpoint holds (the best weights go beside it)."""
        skip = {"best_state", "started", "elapsed"}
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip},
                "elapsed": self.seconds()}  # fmt: skip

    @classmethod
    def restored(cls, progress: dict[str, Any], best_state: dict[str, torch.Tensor] | None) -> TrainState:
        names = {f.name for f in fields(cls)} - {"best_state", "started"}
        state = cls(**{key: value for key, value in progress.items() if key in names}, best_state=best_state)
        state.resumed_from = state.step
        return state

    def finished(self, run: Training) -> bool:
        return self.stopped_early or self.step >= run.total


def fingerprint(
    settings: FinetuneSettings, data: Mapping[str, PathLike], model_dir: PathLike | None, *, seed: int, k: int
) -> str:
    """Hash of everything that determines the training trajectory; a run resumes only an equal one."""
    encoder = None
    if model_dir is not None and settings.init != "scratch":
        root = Path(model_dir)
        encoder = {str(p.relative_to(root)): file_digest(p) for p in sorted(root.rglob("*"))
                   if p.is_file() and not p.name.startswith(".")}  # fmt: skip
    payload = {
        "settings": settings.fingerprint_fields(),
        "seed": seed,
        "k": k,
        "data": {split: file_digest(Path(path)) for split, path in sorted(data.items())},
        "encoder": encoder,
        "format": FORMAT,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Checkpointer:
    """When and where one run saves; ``directory`` None: never."""

    directory: Path | None
    fingerprint: str
    every_steps: int | None  # None: after every dev evaluation
    every_seconds: float
    keep: int
    last_time: float = field(default_factory=time.monotonic)
    saved_step: int = -1

    @classmethod
    def for_run(cls, directory: Path | None, fp: str, settings: FinetuneSettings) -> Checkpointer:
        return cls(directory, fp, settings.checkpoint_every_steps, settings.checkpoint_every_minutes * 60,
                   settings.keep_checkpoints)  # fmt: skip

    def due(self, step: int, evaluated: bool) -> bool:
        """After a dev evaluation (or every ``every_steps``), or when the minutes are up."""
        if self.directory is None or step == self.saved_step:
            return False
        periodic = evaluated if self.every_steps is None else step % self.every_steps == 0
        return periodic or time.monotonic() - self.last_time >= self.every_seconds

    def save(self, run: Training, state: TrainState) -> None:
        """Write the current step's checkpoint (unless there is no directory or it is written already)."""
        if self.directory is None or state.step == self.saved_step:
            return
        training = {"optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
                    "rng": rng_state(run.device)}  # fmt: skip
        if run.scaler is not None and run.scaler.is_enabled():
            training["scaler"] = run.scaler.state_dict()  # fp16 loss scale
        write_checkpoint(self.directory, state.step, {"fingerprint": self.fingerprint, **state.progress()},
                         modules={"model": run.model}, tensors={"best": state.best_state} if state.best_state else {},
                         training=training, keep=self.keep)  # fmt: skip
        self.last_time, self.saved_step = time.monotonic(), state.step

    def resume(self, run: Training) -> TrainState | None:
        """Restore the newest intact checkpoint of this run into model, optimizer, scheduler and RNG; its state."""
        if self.directory is None:
            return None
        loaded = find_resumable(self.directory, self.fingerprint)
        if loaded is None:
            return None
        load_weights(run.model, loaded.tensors["model"], loaded.path / "model.safetensors")
        run.optimizer.load_state_dict(loaded.training["optimizer"])
        run.scheduler.load_state_dict(loaded.training["scheduler"])
        if run.scaler is not None and run.scaler.is_enabled() and "scaler" in loaded.training:
            run.scaler.load_state_dict(loaded.training["scaler"])
        set_rng_state(loaded.training["rng"], run.device)
        state = TrainState.restored(loaded.state, loaded.tensors.get("best"))
        self.saved_step = state.step
        log.info("resuming from %s (step %d of %d)", loaded.path, state.step, run.total)
        return state
