"""Checkpoints and pre-emption shared by pretraining and fine-tuning.

A checkpoint is a directory ``step_NNNNNNNN/`` holding ``state.json`` (the loop's
progress and the run's *fingerprint*), one or more ``*.safetensors`` files (model
weights and other tensors) and ``training.pt`` (optimizer, scheduler and RNG states,
read back with ``torch.load(weights_only=True)``). It is written to a temporary
directory and renamed into place (:func:`write_checkpoint`), so a crash leaves either
the whole checkpoint or a hidden temporary directory that the next run sweeps away.

:func:`find_resumable` returns the newest checkpoint with the run's fingerprint that
reads back whole (:func:`load_checkpoint`): a truncated or unreadable newest one (a
job killed while the file system was still flushing it, a full disk) is skipped with
a warning naming the file and the reason, removed, and the next older one is used.

:class:`StopSignal` records SIGTERM/SIGUSR1 (cluster pre-emption, the end of a SLURM
walltime) so the loop can finish its step and checkpoint; :class:`Preempted` then stops
the run, which exits with :data:`PREEMPTED_EXIT`, and a rerun resumes.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import signal
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file, save_model
from torch import nn

from dnabert.io import InputError, PathLike, atomic_dir

log = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^step_(\d{8})$")
STATE_FILE = "state.json"
TRAINING_FILE = "training.pt"
PREEMPTED_EXIT = 143  # exit status after a checkpoint written on SIGTERM (128 + 15)


# --------------------------------------------------------------------------- reading and writing


@dataclass
class LoadedCheckpoint:
    """A checkpoint read whole into memory: its progress, its tensor files by name, its training states."""

    path: Path
    state: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]]  # file stem (e.g. "model") -> tensors
    training: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.state["step"])


class CorruptCheckpoint(Exception):
    """A checkpoint file that cannot be read back (truncated, not the expected format)."""

    def __init__(self, path: Path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def step_directory(directory: Path, step: int) -> Path:
    return directory / f"step_{step:08d}"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (step, path), oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def write_checkpoint(
    directory: Path,
    step: int,
    state: Mapping[str, Any],
    *,
    modules: Mapping[str, nn.Module] | None = None,
    tensors: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    training: Mapping[str, Any] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``step_NNNNNNNN/`` atomically (temporary directory, then rename); keep the newest ``keep``.

    ``modules`` are saved with their weights deduplicated (tied embeddings), ``tensors`` as they are,
    each as ``<name>.safetensors``; ``training`` (optimizer and scheduler states, RNG) as ``training.pt``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = step_directory(directory, step)
    with atomic_dir(final) as tmp:
        for name, module in (modules or {}).items():
            save_model(module, str(tmp / f"{name}.safetensors"))
        for name, values in (tensors or {}).items():
            save_file({key: value.contiguous() for key, value in values.items()}, str(tmp / f"{name}.safetensors"))
        torch.save(dict(training or {}), tmp / TRAINING_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=1) + "\n")
    for _, old in list_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint: %s", final)
    return final


def load_checkpoint(path: Path) -> LoadedCheckpoint:
    """Read every file of a checkpoint; :class:`CorruptCheckpoint` names the file that does not read back."""
    state_file = path / STATE_FILE
    try:
        state = json.loads(state_file.read_text())
        int(state["step"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise CorruptCheckpoint(state_file, _reason(err)) from None
    tensors = {}
    for file in sorted(path.glob("*.safetensors")):
        try:
            tensors[file.stem] = load_file(str(file), device="cpu")
        except Exception as err:  # safetensors raises its own SafetensorError (e.g. "invalid header length")
            raise CorruptCheckpoint(file, _reason(err)) from None
    training_file = path / TRAINING_FILE
    try:
        training = torch.load(training_file, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip archives raise RuntimeError, missing files OSError, pickles others
        raise CorruptCheckpoint(training_file, _reason(err)) from None
    return LoadedCheckpoint(path, state, tensors, training)


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def find_resumable(directory: Path, fingerprint: str) -> LoadedCheckpoint | None:
    """The newest checkpoint with ``fingerprint`` that reads back whole, loaded; None if there is none.

    Checkpoints of another fingerprint (another configuration) are removed, and so are hidden
    temporary directories of a write interrupted by a crash. A newer checkpoint that does not read
    back is skipped with a warning naming its file and why, and removed.
    """
    if not directory.is_dir():
        return None
    _remove(directory.glob(".step_*"))
    found, stale = None, []
    for _, path in reversed(list_checkpoints(directory)):
        try:
            state_fp = json.loads((path / STATE_FILE).read_text()).get("fingerprint")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as err:
            _discard(CorruptCheckpoint(path / STATE_FILE, _reason(err)))
            continue
        if state_fp != fingerprint:
            stale.append(path)
        elif found is None:
            try:
                found = load_checkpoint(path)
            except CorruptCheckpoint as corrupt:
                _discard(corrupt)
    if stale:
        log.warning("removing %d checkpoint(s) of a different configuration from %s", len(stale), directory)
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
    return found


def _discard(corrupt: CorruptCheckpoint) -> None:
    log.warning("skipping checkpoint %s: %s does not read back (%s); removed it, resuming from an older one "
                "if there is one", corrupt.path.parent.name, corrupt.path, corrupt.reason)  # fmt: skip
    shutil.rmtree(corrupt.path.parent, ignore_errors=True)


def load_weights(model: nn.Module, tensors: Mapping[str, torch.Tensor], source: PathLike) -> None:
    """Copy checkpointed weights into ``model``; names left out because they share storage (tied) are fine."""
    try:
        missing, unexpected = model.load_state_dict(dict(tensors), strict=False)
    except RuntimeError as err:  # shapes differ: name the file, not a bare state_dict error
        detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err))
        raise InputError(source, f"checkpoint does not fit the model: {detail}") from None
    if missing:
        current = model.state_dict(keep_vars=True)
        loaded = {current[name].data_ptr() for name in tensors if name in current}
        missing = [name for name in missing if current[name].data_ptr() not in loaded]
    if missing or unexpected:
        raise InputError(source, f"checkpoint does not fit the model (missing {missing[:5]}, unexpected "
                                 f"{unexpected[:5]})")  # fmt: skip


def remove_checkpoints(directory: Path) -> None:
    """Remove a finished run's checkpoint directory (only checkpoints and their temporary directories)."""
    if not directory.is_dir():
        return
    _remove((path for path in directory.iterdir() if CHECKPOINT_PATTERN.match(path.name) or
             path.name.startswith(".step_")), say=False)  # fmt: skip
    log.info("removed the checkpoints of the finished run from %s", directory)
    try:
        directory.rmdir()
    except OSError:  # something else lives there: leave it
        log.warning("kept %s: it holds files other than checkpoints", directory)


def sweep_temporaries(targets: Iterable[PathLike]) -> None:
    """Remove what an atomic write of each target left behind when its process was killed (``.<name>.*``)."""
    for target in map(Path, targets):
        if not target.parent.is_dir():
            continue
        _remove(target.parent.glob(f".{target.name}.*"))


def _remove(leftovers: Iterable[Path], say: bool = True) -> None:
    """Remove what interrupted writes left (temporary files and directories)."""
    for leftover in list(leftovers):
        if say:
            log.info("removing %s, left by an interrupted write", leftover)
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


# --------------------------------------------------------------------------- random state


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """The torch CPU (and this CUDA device's) random state: dropout streams."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: Mapping[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# --------------------------------------------------------------------------- pre-emption


class Preempted(RuntimeError):
    """Training stopped on a signal after writing a checkpoint; rerun to resume."""

    def __init__(self, step: int, signum: int):
        self.step = step
        self.signum = signum
        super().__init__(f"stopped by signal {signal.Signals(signum).name} at step {step}; checkpoint written")


class StopSignal:
    """Records SIGTERM/SIGUSR1 instead of dying, so the loop can checkpoint first."""

    SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s is not None)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            log.warning("received %s: finishing this step, then writing a checkpoint", signal.Signals(signum).name)
        self.received = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
