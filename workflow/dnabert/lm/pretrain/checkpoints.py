"""Pretraining checkpoints: the progress they carry, their fingerprint, writing, and resuming (every rank).

The directory format, atomic writing, pruning and the fall-back past a checkpoint that does
not read back are :mod:`dnabert.lm.checkpointing`'s; here is what pretraining puts in one
(the model, optimizer, scheduler, every rank's RNG states and :class:`TrainState`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from dnabert.lm.checkpointing import (
    LoadedCheckpoint,
    find_resumable,
    load_checkpoint,
    load_weights,
    rng_state,
    set_rng_state,
    write_checkpoint as write_step_directory,
)
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain.pieces import PieceStore
from dnabert.lm.pretrain.settings import PretrainSettings

log = logging.getLogger("dnabert.lm.pretrain")


@dataclass
class TrainState:
    """Progress that a checkpoint carries besides the weights and optimizer."""

    step: int = 0
    consumed: int = 0  # micro-batches consumed, summed over processes
    tokens: int = 0  # real (non-padding) tokens trained on
    padded_tokens: int = 0
    elapsed: float = 0.0  # seconds spent in training steps, over all resumes
    epochs: float = 0.0  # passes over the training pieces
    epoch_starts: list[int] = field(default_factory=lambda: [0])
    history: list[dict] = field(default_factory=list)
    resumed_from: int | None = None


def fingerprint(settings: PretrainSettings, store: PieceStore, dev: Sequence[str], world: int) -> str:
    """Hash of everything that determines the trajectory; checkpoints resume only into an equal one."""
    data = {
        "settings": settings.fingerprint_fields(),
        "micro_batches_per_step": world * settings.gradient_accumulation,
        "corpus": store.identity(),
        "dev": sorted(dev),
        "format": 1,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def shared_resumable(directory: Path, fp: str, ctx: Dist) -> LoadedCheckpoint | None:
    """The newest intact checkpoint with fingerprint ``fp``, chosen on rank 0 and loaded on every process."""
    loaded = find_resumable(directory, fp) if ctx.main else None
    if ctx.active:
        holder = [str(loaded.path) if loaded else None]
        dist.broadcast_object_list(holder, src=0)
        if not ctx.main and holder[0]:
            loaded = load_checkpoint(Path(holder[0]))
    return loaded


def gathered_rng_states(ctx: Dist) -> list[dict[str, torch.Tensor]]:
    """Every process's RNG states, in rank order (on every process)."""
    states = [rng_state(ctx.device)]
    if ctx.active:
        gathered: list[Any] = [None] * ctx.world
        dist.all_gather_object(gathered, {k: v.cpu() for k, v in states[0].items()})
        states = gathered
    return states


def write_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    rng_states: list[dict[str, torch.Tensor]],
    fp: str,
    keep: int,
    scaler: torch.amp.GradScaler | None = None,
) -> Path:
    """Write ``step_NNNNNNNN/`` (model.safetensors, training.pt, state.json) atomically; prune old ones.

    An enabled fp16 loss scaler's state goes into ``training.pt`` too.
    """
    payload = {"fingerprint": fp, "world_size": len(rng_states), **asdict(state)}
    training = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states}
    if scaler is not None and scaler.is_enabled():
        training["scaler"] = scaler.state_dict()
    return write_step_directory(directory, state.step, payload, modules={"model": model}, training=training,
                                keep=keep)  # fmt: skip


def read_checkpoint(
    loaded: LoadedCheckpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ctx: Dist,
    seed: int,
    scaler: torch.amp.GradScaler | None = None,
) -> TrainState:
    """Restore model, optimizer, scheduler, the fp16 loss scale and this process's RNG; return the progress."""
    payload, extra = loaded.state, loaded.training
    load_weights(model, loaded.tensors.get("model", {}), loaded.path / "model.safetensors")
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    if scaler is not None and scaler.is_enabled() and "scaler" in extra:
        scaler.load_state_dict(extra["scaler"])
    if len(extra["rng"]) == ctx.world:
        set_rng_state(extra["rng"][ctx.rank], ctx.device)
    else:  # a different number of processes: dropout streams restart, seeded by step and rank
        log.warning(
            "checkpoint written by %d processes, resuming with %d: reseeding dropout", len(extra["rng"]), ctx.world
        )
        torch.manual_seed(seed * 1_000_003 + payload["step"] * 1_009 + ctx.rank)
    names = {f.name for f in fields(TrainState)}
    state = TrainState(**{key: value for key, value in payload.items() if key in names})
    state.resumed_from = state.step
    return state
