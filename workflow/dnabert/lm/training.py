"""What pretraining and fine-tuning share: the device, mixed precision, AdamW parameter groups, the CSV log.

Precision (:func:`select_precision`): ``auto`` is bf16 autocast on a GPU with native
bfloat16 (compute capability 8.0 and up: A100, H100, L4, RTX 30xx/40xx), fp16
autocast with a dynamic loss scale (:class:`torch.amp.GradScaler`) on an older GPU
(V100, T4), and on a CPU fp32, except for training on a CPU with native bfloat16
instructions (AVX512-BF16 or AMX: recent Xeons and EPYCs), where bf16 autocast trains
about 1.3x faster (inference on a CPU stays fp32). An explicit ``bf16``, ``fp16`` or
``fp32`` is honoured where the device can do it; ``bf16`` on a GPU without native
bfloat16 is an error (torch would emulate it slowly) that names the card and suggests ``fp16``.
"""

from __future__ import annotations

import contextlib
import csv
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dnabert.io import InputError, PathLike, atomic_path

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
Autocast = Callable[[], contextlib.AbstractContextManager]


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch finds no CUDA device")
    return torch.device(device)


# --------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class DeviceCapabilities:
    """What the precision choice needs to know about a device."""

    type: str  # torch device type: cuda, cpu, ...
    name: str  # e.g. "NVIDIA H100 80GB HBM3", "cpu"
    bf16: bool  # native bfloat16 (not emulated)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX tiles); elsewhere torch emulates bf16."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def device_capabilities(device: torch.device) -> DeviceCapabilities:
    """The capabilities of a real device: its name and whether it has native bf16 (CUDA or CPU)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.cuda.device(index):
            native = torch.cuda.is_bf16_supported(including_emulation=False)
        return DeviceCapabilities("cuda", torch.cuda.get_device_name(index), native)
    return DeviceCapabilities(device.type, device.type, device.type == "cpu" and cpu_has_native_bf16())


def cpuinfo_field(name: str) -> str | None:
    """A field of the first CPU in ``/proc/cpuinfo`` (``vendor_id``, ``model name``); ``None`` where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == name:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_vendor() -> str:
    """The CPU's vendor (GenuineIntel, AuthenticAMD), else ``platform.machine()``."""
    return cpuinfo_field("vendor_id") or platform.machine() or "unknown"


def kernels_of(device: torch.device) -> str:
    """Which compute kernels a device runs, the part of a result's bits that the config does not fix.

    On a CPU, the vendor and torch's vector kernel set (``cpu AuthenticAMD AVX2``): MKL and ATen
    pick other kernels, and so sum in another order, on another instruction set. On CUDA, the card's name.
    """
    if device.type == "cuda":
        return f"cuda {device_capabilities(device).name}"
    if device.type == "cpu":
        return f"cpu {cpu_vendor()} {torch.backends.cpu.get_cpu_capability()}"
    return device.type


@dataclass(frozen=True)
class Precision:
    """A chosen precision: its name, autocast dtype (None: fp32) and whether the loss is scaled (fp16)."""

    name: str  # bf16, fp16 or fp32
    device_type: str

    @property
    def dtype(self) -> torch.dtype | None:
        return DTYPES.get(self.name)

    @property
    def scaled(self) -> bool:
        """fp16 gradients underflow without a dynamic loss scale."""
        return self.name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager:
        """A fresh autocast context (a no-op for fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A dynamic loss scaler for fp16; for bf16 and fp32 a disabled one (scale, unscale_, step pass through)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.scaled)


def select_precision(
    requested: str, device: DeviceCapabilities, field: str = "precision", *, training: bool = False
) -> Precision:
    """The precision to train (``training``) or predict with: ``auto`` chosen for the device, explicit ones checked."""
    if requested not in PRECISIONS:
        raise InputError(None, f"must be one of {', '.join(PRECISIONS)}, got {requested!r}", field=field)
    if requested == "auto":
        if device.type != "cuda":
            return Precision("bf16" if training and device.bf16 else "fp32", device.type)  # bf16: a CPU's own
        return Precision("bf16" if device.bf16 else "fp16", device.type)
    if requested == "bf16" and device.type == "cuda" and not device.bf16:
        raise InputError(
            None,
            f"bf16 needs a GPU with native bfloat16 (compute capability 8.0 or newer); {device.name} has none: "
            "use fp16 (loss-scaled) or auto",
            field=field,
        )
    return Precision(requested, device.type)


def precision_for(
    device: torch.device, requested: str = "auto", field: str = "precision", *, training: bool = False
) -> Precision:
    """:func:`select_precision` for a real device."""
    return select_precision(requested, device_capabilities(device), field, training=training)


def autocast_for(device: torch.device, precision: str) -> tuple[Autocast, str]:
    """The autocast context factory of ``precision`` on ``device`` and the chosen precision's name (inference)."""
    chosen = precision_for(device, precision)
    return chosen.autocast, chosen.name


# --------------------------------------------------------------------------- optimiser, log

def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: no weight decay on biases and LayerNorm weights (as BERT and DNABERT); tied weights once."""
    decay, no_decay = [], []
    seen: set[int] = set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def write_history(path: PathLike, rows: list[dict[str, Any]], fields: Sequence[str]) -> None:
    """A training log (one row per logged or evaluated step) as CSV, written atomically; None is empty."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: ("" if row.get(key) is None else row[key]) for key in fields})
