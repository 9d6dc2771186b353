"""The settings of a pretraining run (masking, optimizer, the ``pretrain:`` section) and where it writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dnabert.io import InputError, PathLike
from dnabert.lm import kmer
from dnabert.lm.models import ModelSettings
from dnabert.lm.training import PRECISIONS

RULE_KEYS = ("gpus", "nodes", "threads", "overwrite")  # pretrain: keys that shape the job, not the training


@dataclass(frozen=True)
class MaskingSettings:
    """Masked fraction of k-mer tokens; ``final_rate`` for the last ``final_fraction`` of the steps.

    DNABERT: 15 %, then 20 % for the last 20k of 120k steps (``final_fraction`` 1/6).
    """

    rate: float = 0.15
    final_rate: float | None = 0.20
    final_fraction: float = 1 / 6

    def __post_init__(self) -> None:
        for name in ("rate", "final_rate"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise InputError(None, f"must be in (0, 1), got {value!r}", field=f"masking.{name}")
        if not 0.0 <= self.final_fraction <= 1.0:
            raise InputError(None, f"must be in [0, 1], got {self.final_fraction!r}", field="masking.final_fraction")

    def first_final_step(self, steps: int) -> int:
        """The first (0-based) step that uses ``final_rate``."""
        return steps - int(round(self.final_fraction * steps))

    def rate_at(self, step: int, steps: int) -> float:
        """Mask rate of (0-based) step ``step`` of ``steps``."""
        if self.final_rate is None or step < self.first_final_step(steps):
            return self.rate
        return self.final_rate


@dataclass(frozen=True)
class OptimizerSettings:
    """AdamW with linear warm-up and linear decay (DNABERT: 4e-4, 0.9/0.98, 1e-6, 0.01, 10k warm-up)."""

    lr: float = 4e-4
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.01
    warmup_steps: int = 10_000
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        checks = {
            "lr": self.lr > 0,
            "betas": len(self.betas) == 2 and all(0.0 <= b < 1.0 for b in self.betas),
            "eps": self.eps > 0,
            "weight_decay": self.weight_decay >= 0,
            "warmup_steps": self.warmup_steps >= 0,
            "max_grad_norm": self.max_grad_norm >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(None, f"invalid value {getattr(self, name)!r}", field=f"optimizer.{name}")

    def lr_factor(self, step: int, steps: int) -> float:
        """Multiplier of ``lr`` at (0-based) step ``step``: linear warm-up, then linear decay to 0."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return max(0.0, (steps - step) / max(1, steps - self.warmup_steps))


@dataclass(frozen=True)
class PretrainSettings:
    """Everything that configures a pretraining run (the config's ``pretrain:`` section plus ``kmer``)."""

    k: int = 6
    model: ModelSettings = field(default_factory=ModelSettings)
    masking: MaskingSettings = field(default_factory=MaskingSettings)
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    steps: int = 120_000
    batch_tokens: int = 32_768
    gradient_accumulation: int = 1
    checkpoint_every_steps: int = 1_000
    checkpoint_every_minutes: float = 30.0
    keep_checkpoints: int = 2
    eval_every_steps: int = 1_000
    eval_pieces: int = 2_000
    log_every_steps: int = 50
    compile: bool = False
    precision: str = "auto"
    packing: bool = False
    prefetch: int = 2
    seed: int = 42
    pretrained: str | None = None
    continue_pretraining: bool = True

    def __post_init__(self) -> None:
        kmer.check_k(self.k)
        positive = ("steps", "batch_tokens", "gradient_accumulation", "checkpoint_every_steps", "keep_checkpoints",
                    "eval_every_steps", "eval_pieces", "log_every_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError(None, f"must be at least 1, got {getattr(self, name)!r}", field=name)
        if self.batch_tokens < kmer.MAX_TOKENS:
            raise InputError(
                None,
                f"must hold one full piece ({kmer.MAX_TOKENS} tokens), got {self.batch_tokens}",
                field="batch_tokens",
            )
        if self.checkpoint_every_minutes <= 0:
            raise InputError(None, "must be positive", field="checkpoint_every_minutes")
        if self.precision not in PRECISIONS:
            raise InputError(None, f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}", field="precision")
        if self.prefetch < 0:
            raise InputError(None, f"must be at least 0, got {self.prefetch!r}", field="prefetch")

    @classmethod
    def from_config(cls, section: dict[str, Any], k: int) -> PretrainSettings:
        """Settings from the config's ``pretrain:`` mapping (``gpus``, ``nodes``, ``threads`` and ``overwrite`` belong to the rule)."""
        section = dict(section)
        for key in RULE_KEYS:
            section.pop(key, None)
        nested = {"model": ModelSettings, "masking": MaskingSettings, "optimizer": OptimizerSettings}
        known = {f.name for f in fields(cls)} - {"k"}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(None, f"unknown pretrain settings {', '.join(unknown)}", field="pretrain")
        values: dict[str, Any] = {"k": k}
        for key, value in section.items():
            if key in nested:
                allowed = {f.name for f in fields(nested[key])}
                bad = sorted(set(value or {}) - allowed)
                if bad:
                    raise InputError(None, f"unknown keys {', '.join(bad)}", field=f"pretrain.{key}")
                values[key] = nested[key](**(value or {}))
            else:
                values[key] = value
        return cls(**values)

    def fingerprint_fields(self) -> dict[str, Any]:
        """The settings that shape the training trajectory (not logging, checkpointing, compilation or prefetching).

        ``packing: false`` is left out, so checkpoints written before the key existed still resume.
        """
        data = asdict(self)
        for name in ("checkpoint_every_steps", "checkpoint_every_minutes", "keep_checkpoints", "eval_every_steps",
                     "eval_pieces", "log_every_steps", "compile", "gradient_accumulation", "prefetch"):
            data.pop(name)
        if not data["packing"]:
            data.pop("packing")
        return data


@dataclass(frozen=True)
class Outputs:
    """Where a run writes."""

    model: Path
    metrics: Path
    history: Path
    plot: Path
    checkpoints: Path
    tensorboard: Path | None = None  # TensorBoard event files (None: none written)

    @classmethod
    def under(cls, directory: PathLike) -> Outputs:
        """The standard layout under one directory (results/pretrain/)."""
        directory = Path(directory)
        return cls(directory / "model", directory / "metrics.json", directory / "training_log.csv",
                   directory / "loss.png", directory / "checkpoints", directory / "tensorboard")
