"""Checkpoints: the progress they carry, their fingerprint, atomic writing, pruning, finding and restoring one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_model, save_model as save_safetensors_model
from torch import nn
from transformers import BertForMaskedLM

from dnabert.io import InputError
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain.pieces import PieceStore
from dnabert.lm.pretrain.settings import PretrainSettings

log = logging.getLogger("dnabert.lm.pretrain")

CHECKPOINT_PATTERN = re.compile(r"^step_(\d{8})$")


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


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (step, path), oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and (path / "state.json").is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def find_resumable(directory: Path, fp: str) -> Path | None:
    """The newest checkpoint with fingerprint ``fp``; others are removed (they belong to another setup).

    Temporary directories left by a checkpoint interrupted while being written are removed too.
    """
    for leftover in directory.glob(".step_*") if directory.is_dir() else ():
        shutil.rmtree(leftover, ignore_errors=True)
    matching, stale = [], []
    for step, path in list_checkpoints(directory):
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            stale.append(path)
            continue
        (matching if state.get("fingerprint") == fp else stale).append(path)
    if stale:
        log.warning("removing %d checkpoint(s) of a different configuration from %s", len(stale), directory)
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
    return matching[-1] if matching else None


def shared_resumable(directory: Path, fp: str, ctx: Dist) -> Path | None:
    """:func:`find_resumable` on rank 0, broadcast to every process."""
    resume = find_resumable(directory, fp) if ctx.main else None
    if ctx.active:
        holder = [str(resume) if resume else None]
        dist.broadcast_object_list(holder, src=0)
        resume = Path(holder[0]) if holder[0] else None
    return resume


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


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
    """Write ``step_NNNNNNNN/`` atomically (temporary directory, then rename); prune old ones.

    An enabled fp16 loss scaler's state goes into ``training.pt`` too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step_{state.step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=directory))
    try:
        save_safetensors_model(model, str(tmp / "model.safetensors"))
        extra = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states}
        if scaler is not None and scaler.is_enabled():
            extra["scaler"] = scaler.state_dict()
        torch.save(extra, tmp / "training.pt")
        payload = {"fingerprint": fp, "world_size": len(rng_states), **asdict(state)}
        (tmp / "state.json").write_text(json.dumps(payload, indent=1) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint: %s", final)
    return final


def read_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ctx: Dist,
    seed: int,
    scaler: torch.amp.GradScaler | None = None,
) -> TrainState:
    """Restore model, optimizer, scheduler, the fp16 loss scale and this process's RNG; return the progress."""
    payload = json.loads((path / "state.json").read_text())
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if unexpected or [m for m in missing if m not in BertForMaskedLM._tied_weights_keys]:
        raise InputError(path / "model.safetensors", f"checkpoint does not fit the model ({missing or unexpected})")
    extra = torch.load(path / "training.pt", map_location="cpu", weights_only=True)
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
