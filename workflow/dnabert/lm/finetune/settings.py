"""The settings of one fine-tuning run (the ``finetune:`` section with a task's overrides) and where it writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dnabert.config.finetune import RULE_KEYS
from dnabert.io import InputError, PathLike
from dnabert.lm.inference import AGGREGATES
from dnabert.lm.models import ModelSettings
from dnabert.lm.training import PRECISIONS
from dnabert.metrics import SCALAR_METRICS, SELECTION_METRICS

INITS = ("pretrained", "released", "scratch")
#: With both strands: train each epoch on both (``double``) or on one drawn per sequence (``sample``).
STRAND_TRAINING = ("double", "sample")
#: Settings that change how often a run is saved, not what it computes (left out of the checkpoint fingerprint).
CHECKPOINT_KEYS = ("checkpoint_every_steps", "checkpoint_every_minutes", "keep_checkpoints")


@dataclass(frozen=True)
class LoraSettings:
    """Low-rank adapters (LoRA, through ``peft``) instead of full fine-tuning; DNABERT-2's defaults.

    ``target_modules`` names the encoder's linear layers that get adapters (``query``,
    ``key``, ``value``, ``dense``); the classification head and the pooler are trained in full.
    """

    r: int = 8
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("query", "value")

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        checks = {
            "r": isinstance(self.r, int) and self.r >= 1,
            "alpha": self.alpha > 0,
            "dropout": 0 <= self.dropout < 1,
            "target_modules": bool(self.target_modules) and all(isinstance(m, str) and m for m in self.target_modules),
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(None, f"invalid value {getattr(self, name)!r}", field=f"finetune.lora.{name}")

    @classmethod
    def from_config(cls, section: Any) -> LoraSettings | None:
        """``None`` (full fine-tuning), a mapping of some of the fields, or settings already."""
        if section is None or isinstance(section, LoraSettings):
            return section
        if not isinstance(section, Mapping):
            raise InputError(None, f"expected a mapping or null, got {section!r}", field="finetune.lora")
        bad = sorted(set(section) - {f.name for f in fields(cls)})
        if bad:
            raise InputError(None, f"unknown keys {', '.join(bad)}", field="finetune.lora")
        return cls(**{key: value for key, value in section.items() if value is not None})


@dataclass(frozen=True)
class FinetuneSettings:
    """One fine-tuning run's settings (the config's ``finetune:`` section merged with its task overrides)."""

    init: str = "pretrained"
    released: str | None = None
    scratch_model: ModelSettings = field(default_factory=ModelSettings)
    lora: LoraSettings | None = None
    lr: float = 2e-4
    epochs: int = 5
    batch_size: int = 32
    warmup: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    patience: int | None = 3
    eval_every_steps: int | None = None
    max_steps: int | None = None
    select_on: str = "loss"
    headline: str = "mcc"
    overflow: str = "split"
    aggregate: str = "mean"
    eval_batch_size: int = 128
    precision: str = "auto"
    both_strands: bool = False
    strand_training: str = "sample"
    checkpoint_every_steps: int | None = None
    checkpoint_every_minutes: float = 30.0
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        checks = {
            "init": self.init in INITS,
            "lr": self.lr > 0,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "warmup": 0 <= self.warmup < 1,
            "weight_decay": self.weight_decay >= 0,
            "dropout": 0 <= self.dropout < 1,
            "betas": len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "adam_epsilon": self.adam_epsilon > 0,
            "max_grad_norm": self.max_grad_norm >= 0,
            "patience": self.patience is None or self.patience >= 1,
            "eval_every_steps": self.eval_every_steps is None or self.eval_every_steps >= 1,
            "max_steps": self.max_steps is None or self.max_steps >= 1,
            "select_on": self.select_on in SELECTION_METRICS,
            "headline": self.headline in SCALAR_METRICS,
            "overflow": self.overflow in ("split", "truncate"),
            "aggregate": self.aggregate in AGGREGATES,
            "eval_batch_size": self.eval_batch_size >= 1,
            "precision": self.precision in PRECISIONS,
            "both_strands": isinstance(self.both_strands, bool),
            "strand_training": self.strand_training in STRAND_TRAINING,
            "checkpoint_every_steps": self.checkpoint_every_steps is None or self.checkpoint_every_steps >= 1,
            "checkpoint_every_minutes": self.checkpoint_every_minutes > 0,
            "keep_checkpoints": self.keep_checkpoints >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(None, f"invalid value {getattr(self, name)!r}", field=f"finetune.{name}")
        if self.init == "released" and not self.released:
            raise InputError(None, "init: released needs the released model directory", field="finetune.released")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> FinetuneSettings:
        """Settings from a merged ``finetune:`` mapping (rule-level keys such as ``seeds`` are ignored)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known - set(RULE_KEYS))
        if unknown:
            raise InputError(None, f"unknown settings {', '.join(unknown)}", field="finetune")
        values = {key: value for key, value in section.items() if key in known and value is not None}
        if isinstance(values.get("scratch_model"), Mapping):
            allowed = {f.name for f in fields(ModelSettings)}
            bad = sorted(set(values["scratch_model"]) - allowed)
            if bad:
                raise InputError(None, f"unknown keys {', '.join(bad)}", field="finetune.scratch_model")
            values["scratch_model"] = ModelSettings(**values["scratch_model"])
        if "lora" in values:
            values["lora"] = LoraSettings.from_config(values["lora"])
        for key in ("patience", "eval_every_steps", "max_steps", "checkpoint_every_steps"):  # null is meaningful
            if key in section and section[key] is None:
                values[key] = None
        return cls(**values)

    def fingerprint_fields(self) -> dict[str, Any]:
        """The settings that shape the training trajectory (not how often it is checkpointed)."""
        data = asdict(self)
        for name in CHECKPOINT_KEYS:
            data.pop(name)
        return data


@dataclass(frozen=True)
class RunOutputs:
    """Where one run writes: its declared outputs, and beside them checkpoints, TensorBoard and a LoRA adapter.

    ``checkpoints`` (removed when the run completes), ``tensorboard`` and ``adapter`` are
    optional (None: not written).
    """

    metrics: Path
    predictions: Path
    history: Path
    model: Path
    checkpoints: Path | None = None
    tensorboard: Path | None = None
    adapter: Path | None = None

    @classmethod
    def under(cls, directory: PathLike) -> RunOutputs:
        """The standard layout of one run folder (results/finetune/{task}/seed{seed}/)."""
        directory = Path(directory)
        return cls(directory / "metrics.json", directory / "predictions.tsv", directory / "history.csv",
                   directory / "model", directory / "checkpoints", directory / "tensorboard",
                   directory / "adapter")  # fmt: skip

    def files(self) -> list[Path]:
        """Every output written atomically (a killed write leaves a hidden temporary beside it)."""
        return [self.metrics, self.predictions, self.history, self.model, *([self.adapter] if self.adapter else [])]
