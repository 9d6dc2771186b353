"""Fine-tuning a k-mer BERT classifier on one task dataset, with honest evaluation.

One run = one task and one seed. The encoder comes from this workflow's pretrained
model directory (``init: pretrained``), a released DNABERT directory
(``released``; both read by :func:`dnabert.lm.models.load_pretrained`), or a fresh
random initialisation (``scratch``, the no-pretraining ablation). A
``BertForSequenceClassification`` head (pooler + dropout + linear, seeded) goes on
top; the number of classes is taken from the labels (splice: 3).

Training follows DNABERT's fine-tuning recipe unless the config says otherwise:
AdamW (lr 2e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.01 except on biases and
LayerNorm), 5 epochs, batch 32, linear warm-up over the first 10 % of the steps
then linear decay to zero, hidden dropout 0.1, gradient clipping at 1.0.

* Batches: each epoch is a seeded permutation cut into pools of
  ``POOL_BATCHES`` batches; a pool is sorted by length and cut into batches,
  and the batch order is shuffled (length bucketing); each batch is padded only
  to its longest row (dynamic padding, rounded up to a multiple of 8).
* Model selection: the dev split is evaluated every ``eval_every_steps`` steps
  (default: every epoch); the best value of ``select_on`` (dev loss by default)
  is kept, training stops after ``patience`` evaluations without improvement,
  and only that best checkpoint is evaluated on the test split, once.
* Long sequences: with ``overflow: split`` a sequence longer than 510 k-mers is
  cut into consecutive 510-k-mer windows (:func:`dnabert.lm.inference.encode`);
  each window is a training example with its sequence's label, and at
  evaluation the window probabilities are combined per sequence (``aggregate``:
  ``mean`` weighted by each window's k-mers, or ``max``: per-class maximum,
  renormalised; :func:`dnabert.lm.inference.combine_windows`). ``truncate`` keeps
  the first 510 k-mers.
* Determinism: everything random (head initialisation, dropout, batch order) is
  a function of the seed; on CPU the same seed gives the same metrics. On CUDA
  the forward pass runs under bf16 autocast (fp16 with a loss scale on GPUs without
  bf16: :func:`dnabert.lm.training.select_precision`). Each batch is padded, and on
  CUDA pinned, ahead of its step in a background thread (:mod:`dnabert.lm.loading`).

This module owns training: the settings, batching, the classifier and its optimiser,
the training loop with dev selection and the run's outputs. Encoding, batched
no-grad prediction and window combination (used here for dev and test) are
:mod:`dnabert.lm.inference`'s. A run's steps: :func:`setup_device`,
:func:`load_data`, :func:`build_training`, :func:`train` (:func:`train_step`,
:func:`evaluate_dev`), :func:`restore_best`, :func:`evaluate_test`,
:func:`summarise`, :func:`write_outputs`.

Outputs of a run: ``metrics.json`` (test metrics of the best checkpoint, its dev
metrics, training facts), ``predictions.tsv`` (one row per test sequence: id, row,
label, predicted class, class probabilities), ``history.csv`` (the training log)
and the best model as a Hugging Face directory with its tokenizer.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import BertForSequenceClassification

from dnabert.config.finetune import RULE_KEYS
from dnabert.io import InputError, PathLike, write_json
from dnabert.lm import kmer
from dnabert.lm.evaluation import SPLIT_NAMES, Split, evaluate, read_task, write_predictions
from dnabert.lm.inference import AGGREGATES, Autocast, Encoded, combine_windows, encode, predict_rows
from dnabert.lm.models import ModelSettings, bert_config, count_parameters, load_pretrained, save_model
from dnabert.lm.loading import Prefetcher
from dnabert.lm.training import PRECISIONS, param_groups, precision_for, resolve_device, write_history
from dnabert.metrics import SCALAR_METRICS, SELECTION_METRICS, is_better

log = logging.getLogger(__name__)

INITS = ("pretrained", "released", "scratch")
POOL_BATCHES = 50  # batches per length-sorting pool
PREFETCH = 2  # training batches prepared ahead of the step (0: in the step)
HISTORY_FIELDS = ("step", "epoch", "lr", "train_loss", "dev_loss", *(f"dev_{m}" for m in SCALAR_METRICS),
                  "best", "elapsed_s")  # fmt: skip


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class FinetuneSettings:
    """One fine-tuning run's settings (the config's ``finetune:`` section merged with its task overrides)."""

    init: str = "pretrained"
    released: str | None = None
    scratch_model: ModelSettings = field(default_factory=ModelSettings)
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
        for key in ("patience", "eval_every_steps", "max_steps"):  # null is meaningful here
            if key in section and section[key] is None:
                values[key] = None
        return cls(**values)


# --------------------------------------------------------------------------- data


@dataclass
class TaskData:
    """A task's splits, their token rows (:func:`dnabert.lm.inference.encode`) and each training row's label."""

    splits: dict[str, Split]
    encoded: dict[str, Encoded]
    n_classes: int
    train_labels: np.ndarray


def load_data(data: Mapping[str, PathLike], k: int, overflow: str) -> TaskData:
    """Read the train/dev/test TSVs and tokenise them (long sequences split into windows, or truncated)."""
    splits, n_classes = read_task(data)
    encoded = {name: encode(split.sequences, k, overflow) for name, split in splits.items()}
    for name, enc in encoded.items():
        if len(enc) > enc.n_sequences:
            log.info("%s: %d sequences longer than %d k-mers were split into %d windows", name,
                     int((np.bincount(enc.sequence_index) > 1).sum()), kmer.MAX_KMERS, len(enc))  # fmt: skip
    train_labels = splits["train"].labels[encoded["train"].sequence_index]
    return TaskData(splits, encoded, n_classes, train_labels)


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Length-bucketed batches of one epoch: a pure function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(lengths.size)
    pool = batch_size * POOL_BATCHES
    batches: list[np.ndarray] = []
    for start in range(0, order.size, pool):
        members = order[start : start + pool]
        members = members[np.argsort(lengths[members], kind="stable")]
        batches += [members[i : i + batch_size] for i in range(0, members.size, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def steps_per_epoch(n_rows: int, batch_size: int) -> int:
    """Batches per epoch of :func:`epoch_batches` (the same in every epoch)."""
    pool = batch_size * POOL_BATCHES
    full, rest = divmod(n_rows, pool)
    return full * POOL_BATCHES + math.ceil(rest / batch_size)


# --------------------------------------------------------------------------- model and optimiser


def build_classifier(
    settings: FinetuneSettings, k: int, n_classes: int, seed: int, model_dir: PathLike | None = None
) -> BertForSequenceClassification:
    """A sequence classifier: pretrained or released encoder from ``model_dir``, or a random one.

    The pooler and classification head (and, from scratch, everything) are initialised
    from ``seed``, independently of the global random state.
    """
    if settings.init == "scratch":
        config = bert_config(k, settings.scratch_model)
        encoder = None
        origin = "scratch"
    else:
        if model_dir is None:
            raise InputError(None, f"init: {settings.init} needs a model directory", field="finetune.init")
        mlm, _ = load_pretrained(model_dir, k)
        config = copy.deepcopy(mlm.config)
        encoder = mlm.bert.state_dict()
        origin = str(model_dir)
    config.num_labels = n_classes
    config.id2label = {i: f"class_{i}" for i in range(n_classes)}
    config.label2id = {f"class_{i}": i for i in range(n_classes)}
    config.hidden_dropout_prob = settings.dropout
    config.classifier_dropout = None  # the head uses hidden_dropout_prob
    config.problem_type = "single_label_classification"
    config.architectures = ["BertForSequenceClassification"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    if encoder is not None:
        missing, unexpected = model.bert.load_state_dict(encoder, strict=False)
        missing = [key for key in missing if not key.startswith("pooler.")]
        if missing or unexpected:
            raise InputError(
                model_dir, f"encoder weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
    counts = count_parameters(model)
    log.info("classifier with %d classes from %s: %.1fM parameters", n_classes, origin, counts["total"] / 1e6)
    return model


def lr_factor(step: int, total: int, warmup_steps: int) -> float:
    """Linear warm-up over ``warmup_steps``, then linear decay to zero at ``total`` (0-based ``step``)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total - step) / max(1, total - warmup_steps))


def setup_device(device: str, threads: int | None, precision: str) -> tuple[torch.device, Autocast, str]:
    """The torch device (TF32 matmuls on CUDA), its autocast context and the precision's name."""
    if threads:
        torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    if torch_device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    chosen = precision_for(torch_device, precision, field="finetune.precision")
    return torch_device, chosen.autocast, chosen.name


@dataclass
class Training:
    """What one run trains with: its data, model, optimiser and schedule, and where it runs."""

    settings: FinetuneSettings
    data: TaskData
    model: BertForSequenceClassification
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    device: torch.device
    autocast: Autocast
    precision: str
    task: str
    seed: int
    k: int
    per_epoch: int  # optimizer steps per epoch
    total: int  # planned optimizer steps
    eval_every: int  # steps between dev evaluations
    scaler: torch.amp.GradScaler | None = None  # fp16 loss scaling (None or disabled otherwise)

    def epoch_of(self, step: int) -> float:
        return round(step / self.per_epoch, 3)

    def predict(self, split: str) -> np.ndarray:
        """Per-sequence class probabilities of one split, window probabilities combined."""
        encoded = self.data.encoded[split]
        probs = predict_rows(self.model, encoded, self.settings.eval_batch_size, self.device, self.autocast)
        return combine_windows(probs, encoded, self.settings.aggregate)


def build_training(
    settings: FinetuneSettings,
    data: TaskData,
    device: tuple[torch.device, Autocast, str],
    *,
    task: str,
    k: int,
    seed: int,
    model_dir: PathLike | None,
) -> Training:
    """Seed the dropout stream, build the classifier, AdamW and the warm-up/decay schedule."""
    torch_device, autocast, precision = device
    torch.manual_seed(seed)  # dropout stream
    model = build_classifier(settings, k, data.n_classes, seed, model_dir).to(torch_device)
    optimizer = torch.optim.AdamW(
        param_groups(model, settings.weight_decay), lr=settings.lr, betas=settings.betas, eps=settings.adam_epsilon,
        **({"fused": True} if torch_device.type == "cuda" else {"foreach": True}),
    )
    per_epoch = steps_per_epoch(len(data.encoded["train"]), settings.batch_size)
    total = per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    warmup_steps = int(round(settings.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup_steps))
    eval_every = settings.eval_every_steps or per_epoch
    log.info("%s seed %d: %d training rows, %d steps (%d per epoch), warm-up %d, dev every %d steps, %s on %s",
             task, seed, len(data.encoded["train"]), total, per_epoch, warmup_steps, eval_every, precision,
             torch_device)  # fmt: skip
    scaler = torch.amp.GradScaler(torch_device.type, enabled=precision == "fp16")
    return Training(settings, data, model, optimizer, scheduler, torch_device, autocast, precision, task, seed, k,
                    per_epoch, total, eval_every, scaler)  # fmt: skip


# --------------------------------------------------------------------------- training


@dataclass
class TrainState:
    """The training loop's state, shared by the optimiser steps and the dev evaluations."""

    started: float  # time.perf_counter() when training began
    step: int = 0
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_value: float | None = None
    best: dict[str, Any] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] | None = None
    stale: int = 0  # dev evaluations since the last improvement
    window_loss: float = 0.0  # summed training loss since the last dev evaluation ...
    window_rows: int = 0  # ... over this many rows
    trained_rows: int = 0
    train_seconds: float = 0.0
    stopped_early: bool = False


def batch_tensors(run: Training, rows: np.ndarray) -> tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows of one training batch, padded: ``(rows, input_ids, attention_mask, labels)`` (CPU tensors)."""
    input_ids, attention_mask = run.data.encoded["train"].batch(rows)
    return rows, input_ids, attention_mask, torch.from_numpy(run.data.train_labels[rows])


def training_batches(run: Training, first_epoch: int) -> Prefetcher:
    """Every epoch's batches from ``first_epoch`` on, built ``PREFETCH`` ahead in a thread (pinned on CUDA)."""

    def epochs():
        epoch = first_epoch
        while True:
            yield from epoch_batches(run.data.encoded["train"].lengths, run.settings.batch_size, run.seed, epoch)
            epoch += 1

    return Prefetcher(epochs(), partial(batch_tensors, run), PREFETCH, run.device, name="finetune-batches")


def train_step(run: Training, state: TrainState, batch: tuple[np.ndarray, torch.Tensor, ...]) -> None:
    """One optimiser step on one prepared batch (:func:`batch_tensors`)."""
    tick = time.perf_counter()
    rows, input_ids, attention_mask, labels = batch
    scaler = run.scaler or torch.amp.GradScaler(run.device.type, enabled=False)
    with run.autocast():
        inputs = {"input_ids": input_ids.to(run.device, non_blocking=True),
                  "attention_mask": attention_mask.to(run.device, non_blocking=True)}  # fmt: skip
        logits = run.model(**inputs).logits
    loss = nn.functional.cross_entropy(logits.float(), labels.to(run.device, non_blocking=True))
    scaler.scale(loss).backward()
    if run.settings.max_grad_norm > 0:
        scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.settings.max_grad_norm)
    scaler.step(run.optimizer)
    scaler.update()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.window_loss += float(loss.detach()) * rows.size
    state.window_rows += rows.size
    state.trained_rows += rows.size
    state.train_seconds += time.perf_counter() - tick


def evaluate_dev(run: Training, state: TrainState) -> float | None:
    """Score dev, keep the checkpoint if it is the best so far, log a history row; return the selection value."""
    select_on = run.settings.select_on
    dev = evaluate(run.data.splits["dev"].labels, run.predict("dev"))
    value = dev[select_on]
    improved = is_better(select_on, value, state.best_value)
    if improved:
        state.best_value, state.stale = value, 0
        state.best = {"step": state.step, "epoch": run.epoch_of(state.step), "dev": dev}
        state.best_state = {name: t.detach().to("cpu", copy=True) for name, t in run.model.state_dict().items()}
    else:
        state.stale += 1
    row = {"step": state.step, "epoch": run.epoch_of(state.step), "lr": run.scheduler.get_last_lr()[0],
           "train_loss": state.window_loss / max(state.window_rows, 1), "dev_loss": dev["loss"],
           **{f"dev_{m}": dev[m] for m in SCALAR_METRICS}, "best": int(improved),
           "elapsed_s": round(time.perf_counter() - state.started, 2)}  # fmt: skip
    state.history.append(row)
    state.window_loss, state.window_rows = 0.0, 0
    log.info("step %d/%d (epoch %.2f): train loss %.4f, dev loss %.4f, dev MCC %.4f, dev AUROC %s%s",
             state.step, run.total, row["epoch"], row["train_loss"], dev["loss"], dev["mcc"], _fmt(dev["auroc"]),
             f" (best {select_on})" if improved else "")  # fmt: skip
    return value


def train(run: Training, progress: bool) -> TrainState:
    """Train for the planned steps, evaluating dev every ``eval_every`` steps, until done or out of patience."""
    settings = run.settings
    state = TrainState(started=time.perf_counter())
    bar = tqdm(total=run.total, desc=f"fine-tune {run.task} seed {run.seed}", unit="step", disable=not progress,
               mininterval=5)  # fmt: skip
    run.model.train()
    with training_batches(run, state.epoch) as batches:
        while state.step < run.total and not state.stopped_early:
            train_step(run, state, next(batches))
            bar.update(1)
            if state.step % run.eval_every == 0 or state.step == run.total:
                value = evaluate_dev(run, state)
                bar.set_postfix(dev=f"{_fmt(value)}")
                if settings.patience is not None and state.stale >= settings.patience:
                    log.info("early stop: %d evaluations without a better dev %s", state.stale, settings.select_on)
                    state.stopped_early = True
            state.epoch = state.step // run.per_epoch
    bar.close()
    return state


def restore_best(run: Training, state: TrainState) -> None:
    """Load the best dev checkpoint into the model; if dev was never defined, keep the last one."""
    if state.best_state is None:  # every dev value undefined: keep the last model
        log.warning("dev %s was never defined; the last checkpoint is evaluated", run.settings.select_on)
        state.best = {"step": state.step, "epoch": run.epoch_of(state.step),
                      "dev": state.history[-1] if state.history else {}}  # fmt: skip
    else:
        run.model.load_state_dict(state.best_state)


# --------------------------------------------------------------------------- test and outputs


def evaluate_test(run: Training) -> tuple[dict[str, Any], np.ndarray]:
    """The selected model's test metrics and per-sequence test probabilities (test is scored once, here)."""
    probs = run.predict("test")
    test = evaluate(run.data.splits["test"].labels, probs)
    log.info("%s seed %d: test %s", run.task, run.seed, ", ".join(f"{m} {_fmt(test[m])}" for m in SCALAR_METRICS))
    return test, probs


def summarise(run: Training, state: TrainState, test: dict[str, Any], model_dir: PathLike | None) -> dict[str, Any]:
    """The run's ``metrics.json``: test metrics, the selected checkpoint, training facts, data sizes, settings."""
    settings, splits, n_classes = run.settings, run.data.splits, run.data.n_classes
    return {
        "task": run.task,
        "seed": run.seed,
        "init": settings.init,
        "encoder": None if settings.init == "scratch" else str(model_dir),
        "k": run.k,
        "n_classes": n_classes,
        "headline": settings.headline,
        "select_on": settings.select_on,
        "test": test,
        "best": state.best,
        "training": {
            "steps": state.step,
            "planned_steps": run.total,
            "steps_per_epoch": run.per_epoch,
            "stopped_early": state.stopped_early,
            "train_seconds": round(state.train_seconds, 3),
            "train_rows_per_s": round(state.trained_rows / max(state.train_seconds, 1e-9), 2),
            "device": str(run.device),
            "precision": run.precision,
            "parameters": count_parameters(run.model)["total"],
        },
        "data": {name: {"sequences": len(splits[name]), "rows": len(run.data.encoded[name]),
                        "class_counts": np.bincount(splits[name].labels, minlength=n_classes).tolist()}
                 for name in SPLIT_NAMES},  # fmt: skip
        "settings": _jsonable(asdict(settings)),
    }


@dataclass(frozen=True)
class RunOutputs:
    """Where one run writes."""

    metrics: Path
    predictions: Path
    history: Path
    model: Path

    @classmethod
    def under(cls, directory: PathLike) -> RunOutputs:
        directory = Path(directory)
        return cls(directory / "metrics.json", directory / "predictions.tsv", directory / "history.csv",
                   directory / "model")  # fmt: skip


def write_outputs(
    run: Training, state: TrainState, outputs: RunOutputs, test_probs: np.ndarray, result: dict[str, Any]
) -> None:
    """The selected model (moved to CPU), test predictions, training history and metrics."""
    save_model(run.model.cpu(), outputs.model, run.k)
    write_predictions(outputs.predictions, run.data.splits["test"], test_probs)
    write_history(outputs.history, state.history, HISTORY_FIELDS)
    write_json(outputs.metrics, result)


def finetune(
    settings: FinetuneSettings,
    data: Mapping[str, PathLike],
    outputs: RunOutputs,
    *,
    k: int,
    seed: int,
    model_dir: PathLike | None = None,
    task: str = "task",
    device: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Fine-tune, select the best dev checkpoint, evaluate it on test once, write all outputs.

    ``data`` maps ``train``, ``dev`` and ``test`` to dataset TSVs. Returns the run's metrics.
    """
    where = setup_device(device, threads, settings.precision)
    progress = sys.stderr.isatty() if progress is None else progress
    task_data = load_data(data, k, settings.overflow)
    run = build_training(settings, task_data, where, task=task, k=k, seed=seed, model_dir=model_dir)
    state = train(run, progress)
    restore_best(run, state)
    test, test_probs = evaluate_test(run)
    result = summarise(run, state, test, model_dir)
    write_outputs(run, state, outputs, test_probs, result)
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dnabert.lm.finetune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="dataset folder with train/dev/test.tsv.gz")
    parser.add_argument("--out", required=True, type=Path, help="run folder (metrics.json, predictions.tsv, ...)")
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", type=Path, default=None, help="pretrained or released model directory")
    parser.add_argument("--settings", default="{}", help="finetune settings as JSON, or @file.json")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: one fine-tuning run."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    text = Path(args.settings[1:]).read_text() if args.settings.startswith("@") else args.settings
    try:
        section = json.loads(text)
        if args.model is None and "init" not in section:
            section["init"] = "scratch"
        settings = FinetuneSettings.from_config(section)
        data = {name: args.data / f"{name}.tsv.gz" for name in SPLIT_NAMES}
        finetune(settings, data, RunOutputs.under(args.out), k=args.kmer, seed=args.seed, model_dir=args.model,
                 task=args.data.name, device=args.device, threads=args.threads)  # fmt: skip
    except InputError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
