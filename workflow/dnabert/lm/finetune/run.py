"""What one run trains with: the device, the classifier (LoRA-wrapped if asked), AdamW and its schedule.

DNABERT's fine-tuning recipe unless the config says otherwise: AdamW (lr 2e-4, betas
0.9/0.999, eps 1e-8, weight decay 0.01 except on biases and LayerNorm), linear warm-up over
the first 10 % of the steps then linear decay to zero, gradient clipping at 1.0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dnabert.io import PathLike
from dnabert.lm.finetune.data import TaskData, steps_per_epoch
from dnabert.lm.finetune.model import add_lora, build_classifier
from dnabert.lm.finetune.settings import FinetuneSettings
from dnabert.lm.inference import Autocast, predict_encoded
from dnabert.lm.training import param_groups, precision_for, resolve_device

log = logging.getLogger("dnabert.lm.finetune")


def lr_factor(step: int, total: int, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps``, then linear decay to zero at ``total`` (0-based ``step``)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total - step) / max(1, total - warmup_steps))


Where = tuple[torch.device, Autocast, str, Autocast]


def setup_device(device: str, threads: int | None, precision: str) -> Where:
    """The torch device (TF32 matmuls on CUDA), its training autocast, that precision's name, and the
    autocast of dev/test predictions: the one ``dnabert predict`` uses, so both give the same probabilities
    (on a CPU with bf16 instructions, ``auto`` trains in bf16 and predicts in fp32)."""
    if threads:
        torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    if torch_device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    chosen = precision_for(torch_device, precision, field="finetune.precision", training=True)
    inference = precision_for(torch_device, precision, field="finetune.precision")
    return torch_device, chosen.autocast, chosen.name, inference.autocast


@dataclass
class Training:
    """What one run trains with: its data, model, optimiser and schedule, and where it runs."""

    settings: FinetuneSettings
    data: TaskData
    model: nn.Module  # BertForSequenceClassification, or its peft (LoRA) wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    device: torch.device
    autocast: Autocast  # training steps
    precision: str  # of the training steps
    task: str
    seed: int
    k: int
    per_epoch: int  # optimizer steps per epoch
    total: int  # planned optimizer steps
    eval_every: int  # steps between dev evaluations
    scaler: torch.amp.GradScaler | None = None  # fp16 loss scaling (disabled for bf16 and fp32)
    predict_autocast: Autocast | None = None  # dev/test predictions (None: as training)

    def epoch_of(self, step: int) -> float:
        return round(step / self.per_epoch, 3)

    def predict(self, split: str) -> np.ndarray:
        """Per-sequence class probabilities of one split, window probabilities combined."""
        reverse = self.data.reverse[split] if self.data.reverse else None
        return predict_encoded(self.model, self.data.encoded[split], self.settings.eval_batch_size, self.device,
                               self.predict_autocast or self.autocast, self.settings.aggregate,
                               reverse=reverse)  # fmt: skip

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of what training changes (every parameter; with LoRA the adapters, pooler and head)."""
        return {name: p.detach().to("cpu", copy=True) for name, p in self.model.named_parameters() if p.requires_grad}


def build_training(
    settings: FinetuneSettings,
    data: TaskData,
    device: Where,
    *,
    task: str,
    k: int,
    seed: int,
    model_dir: PathLike | None,
) -> Training:
    """Seed the dropout stream, build the classifier (and its adapters), AdamW and the warm-up/decay schedule."""
    torch_device, autocast, precision, predict_autocast = device
    torch.manual_seed(seed)  # dropout stream
    model: nn.Module = build_classifier(settings, k, data.n_classes, seed, model_dir)
    if settings.lora is not None:
        model = add_lora(model, settings.lora, seed, model_dir)
    model = model.to(torch_device)
    optimizer = torch.optim.AdamW(
        param_groups(model, settings.weight_decay), lr=settings.lr, betas=settings.betas, eps=settings.adam_epsilon,
        **({"fused": True} if torch_device.type == "cuda" else {"foreach": True}),
    )
    per_epoch = steps_per_epoch(data.rows_per_epoch, settings.batch_size)
    total = per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    warmup_steps = int(round(settings.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup_steps))
    eval_every = settings.eval_every_steps or per_epoch
    log.info("%s seed %d: %d training rows per epoch, %d steps (%d per epoch), warm-up %d, dev every %d steps, %s on %s",
             task, seed, data.rows_per_epoch, total, per_epoch, warmup_steps, eval_every, precision,
             torch_device)  # fmt: skip
    scaler = torch.amp.GradScaler(torch_device.type, enabled=precision == "fp16")
    return Training(settings, data, model, optimizer, scheduler, torch_device, autocast, precision, task, seed, k,
                    per_epoch, total, eval_every, scaler, predict_autocast)  # fmt: skip


def format_value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def jsonable(value: object) -> object:
    """Tuples as lists, recursively (settings as JSON)."""
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value
