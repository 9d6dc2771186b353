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
  cut into consecutive 510-k-mer windows (:func:`dnabert.lm.kmer.encode_batch`);
  each window is a training example with its sequence's label, and at
  evaluation the window probabilities are combined per sequence (``aggregate``:
  ``mean`` weighted by each window's k-mers, or ``max``: per-class maximum,
  renormalised). ``truncate`` keeps the first 510 k-mers.
* Determinism: everything random (head initialisation, dropout, batch order) is
  a function of the seed; on CPU the same seed gives the same metrics. On CUDA
  the forward pass runs under bf16 autocast.

Outputs of a run: ``metrics.json`` (test metrics of the best checkpoint, its dev
metrics, training facts), ``predictions.tsv`` (one row per test sequence: id, row,
label, predicted class, class probabilities), ``history.csv`` (the training log)
and the best model as a Hugging Face directory with its tokenizer.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import BertForSequenceClassification

from dnabert.lm import kmer
from dnabert.io import write_json
from dnabert.lm.evaluation import SPLIT_NAMES, evaluate, read_task, write_predictions
from dnabert.config.finetune import RULE_KEYS
from dnabert.io import InputError, PathLike
from dnabert.metrics import SCALAR_METRICS, SELECTION_METRICS, is_better
from dnabert.lm.training import autocast_for, param_groups, resolve_device, write_history
from dnabert.lm.models import ModelSettings, bert_config, count_parameters, load_pretrained, save_model

log = logging.getLogger(__name__)

INITS = ("pretrained", "released", "scratch")
AGGREGATES = ("mean", "max")
POOL_BATCHES = 50  # batches per length-sorting pool
PAD_MULTIPLE = 8
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
            "precision": self.precision in ("auto", "fp32", "bf16"),
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
class Encoded:
    """Token rows (``[CLS] k-mers [SEP]``, one or more per sequence) stored ragged."""

    tokens: np.ndarray  # all rows' tokens, concatenated
    offsets: np.ndarray  # row r is tokens[offsets[r]:offsets[r + 1]]
    sequence_index: np.ndarray  # input sequence of each row
    n_sequences: int

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return int(self.sequence_index.size)

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` of some rows, padded to their longest (multiple of 8)."""
        lengths = self.lengths[rows]
        width = int(-(-lengths.max() // PAD_MULTIPLE) * PAD_MULTIPLE)
        ids = np.zeros((rows.size, width), dtype=np.int64)  # PAD_ID == 0
        positions = np.arange(width)[None, :]
        mask = positions < lengths[:, None]
        source = self.offsets[rows][:, None] + positions
        ids[mask] = self.tokens[source[mask]]
        return torch.from_numpy(ids), torch.from_numpy(mask.astype(np.int64))


def encode(sequences: Sequence[str], k: int, overflow: str = "split", chunk: int = 4096) -> Encoded:
    """Tokenise sequences (vectorised, in chunks) into ragged rows; ``overflow`` as in :mod:`dnabert.lm.kmer`."""
    tokens, lengths, index = [], [], []
    for start in range(0, len(sequences), chunk):
        part = list(sequences[start : start + chunk])
        batch = kmer.encode_batch(part, k, overflow=overflow, dtype=np.int32)
        row_lengths = batch.attention_mask.sum(axis=1)
        tokens.append(batch.input_ids[batch.attention_mask.astype(bool)])
        lengths.append(row_lengths)
        index.append(batch.sequence_index + start)
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths_all))).astype(np.int64)
    return Encoded(np.concatenate(tokens) if tokens else np.zeros(0, np.int32), offsets,
                   np.concatenate(index) if index else np.zeros(0, np.int64), len(sequences))  # fmt: skip


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


# --------------------------------------------------------------------------- model






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


# --------------------------------------------------------------------------- inference


def combine_windows(
    window_probs: np.ndarray, encoded: Encoded, aggregate: str = "mean"
) -> np.ndarray:
    """Per-sequence probabilities from per-row (window) probabilities.

    ``mean``: mean over a sequence's windows weighted by their k-mers; ``max``: the
    per-class maximum over windows, renormalised to sum to 1. One window: unchanged.
    """
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    n, n_classes = encoded.n_sequences, window_probs.shape[1]
    index = encoded.sequence_index
    if index.size == n and np.array_equal(index, np.arange(n)):
        return window_probs
    if aggregate == "mean":
        weights = (encoded.lengths - 2).clip(min=1).astype(np.float64)
        out = np.zeros((n, n_classes))
        np.add.at(out, index, window_probs * weights[:, None])
        total = np.bincount(index, weights=weights, minlength=n)
        return out / total[:, None]
    out = np.full((n, n_classes), -np.inf)
    np.maximum.at(out, index, window_probs)
    return out / out.sum(axis=1, keepdims=True)


@torch.inference_mode()
def predict_rows(
    model: nn.Module,
    encoded: Encoded,
    batch_size: int,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    progress: bool = False,
) -> np.ndarray:
    """Class probabilities of every row (eval mode, no gradients, length-sorted batches)."""
    was_training = model.training
    model.eval()
    order = np.argsort(encoded.lengths, kind="stable")
    out = np.zeros((len(encoded), model.config.num_labels), dtype=np.float64)
    starts = range(0, order.size, batch_size)
    for start in tqdm(starts, desc="predict", unit="batch", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = encoded.batch(rows)
        with autocast():
            logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        out[rows] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    model.train(was_training)
    return out


def predict_sequences(
    model: nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    batch_size: int = 128,
    device: torch.device | None = None,
    aggregate: str = "mean",
    overflow: str = "split",
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence class probabilities and the number of windows of each sequence."""
    device = device or next(model.parameters()).device
    encoded = encode(sequences, k, overflow)
    probs = predict_rows(model, encoded, batch_size, device, autocast)
    windows = np.bincount(encoded.sequence_index, minlength=len(sequences))
    return combine_windows(probs, encoded, aggregate), windows


# --------------------------------------------------------------------------- training


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
    if threads:
        torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    if torch_device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    autocast, precision = autocast_for(torch_device, settings.precision)
    progress = sys.stderr.isatty() if progress is None else progress
    splits, n_classes = read_task(data)
    encoded = {name: encode(split.sequences, k, settings.overflow) for name, split in splits.items()}
    for name, enc in encoded.items():
        if len(enc) > enc.n_sequences:
            log.info("%s: %d sequences longer than %d k-mers were split into %d windows", name,
                     int((np.bincount(enc.sequence_index) > 1).sum()), kmer.MAX_KMERS, len(enc))  # fmt: skip
    train_labels = splits["train"].labels[encoded["train"].sequence_index]

    torch.manual_seed(seed)  # dropout stream
    model = build_classifier(settings, k, n_classes, seed, model_dir).to(torch_device)
    optimizer = torch.optim.AdamW(
        param_groups(model, settings.weight_decay), lr=settings.lr, betas=settings.betas, eps=settings.adam_epsilon,
        **({"fused": True} if torch_device.type == "cuda" else {"foreach": True}),
    )
    per_epoch = steps_per_epoch(len(encoded["train"]), settings.batch_size)
    total = per_epoch * settings.epochs
    if settings.max_steps is not None:
        total = min(total, settings.max_steps)
    warmup_steps = int(round(settings.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup_steps))
    eval_every = settings.eval_every_steps or per_epoch
    log.info("%s seed %d: %d training rows, %d steps (%d per epoch), warm-up %d, dev every %d steps, %s on %s",
             task, seed, len(encoded["train"]), total, per_epoch, warmup_steps, eval_every, precision,
             torch_device)  # fmt: skip

    history: list[dict[str, Any]] = []
    best_value: float | None = None
    best: dict[str, Any] = {}
    best_state: dict[str, torch.Tensor] | None = None
    stale = 0
    step = 0
    window_loss, window_rows = 0.0, 0
    trained_rows = 0
    started = time.perf_counter()
    train_seconds = 0.0
    stopped_early = False
    bar = tqdm(total=total, desc=f"fine-tune {task} seed {seed}", unit="step", disable=not progress, mininterval=5)
    model.train()
    epoch = 0
    while step < total and not stopped_early:
        for rows in epoch_batches(encoded["train"].lengths, settings.batch_size, seed, epoch):
            tick = time.perf_counter()
            input_ids, attention_mask = encoded["train"].batch(rows)
            labels = torch.from_numpy(train_labels[rows])
            with autocast():
                inputs = {"input_ids": input_ids.to(torch_device), "attention_mask": attention_mask.to(torch_device)}
                logits = model(**inputs).logits
            loss = nn.functional.cross_entropy(logits.float(), labels.to(torch_device))
            loss.backward()
            if settings.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            window_loss += float(loss.detach()) * rows.size
            window_rows += rows.size
            trained_rows += rows.size
            train_seconds += time.perf_counter() - tick
            bar.update(1)
            if step % eval_every == 0 or step == total:
                probs = combine_windows(predict_rows(model, encoded["dev"], settings.eval_batch_size, torch_device,
                                                     autocast), encoded["dev"], settings.aggregate)  # fmt: skip
                dev = evaluate(splits["dev"].labels, probs)
                value = dev[settings.select_on]
                improved = is_better(settings.select_on, value, best_value)
                if improved:
                    best_value, stale = value, 0
                    best = {"step": step, "epoch": round(step / per_epoch, 3), "dev": dev}
                    best_state = {name: t.detach().to("cpu", copy=True) for name, t in model.state_dict().items()}
                else:
                    stale += 1
                row = {"step": step, "epoch": round(step / per_epoch, 3), "lr": scheduler.get_last_lr()[0],
                       "train_loss": window_loss / max(window_rows, 1), "dev_loss": dev["loss"],
                       **{f"dev_{m}": dev[m] for m in SCALAR_METRICS}, "best": int(improved),
                       "elapsed_s": round(time.perf_counter() - started, 2)}  # fmt: skip
                history.append(row)
                window_loss, window_rows = 0.0, 0
                log.info("step %d/%d (epoch %.2f): train loss %.4f, dev loss %.4f, dev MCC %.4f, dev AUROC %s%s",
                         step, total, row["epoch"], row["train_loss"], dev["loss"], dev["mcc"], _fmt(dev["auroc"]),
                         f" (best {settings.select_on})" if improved else "")  # fmt: skip
                bar.set_postfix(dev=f"{_fmt(value)}")
                if settings.patience is not None and stale >= settings.patience:
                    log.info("early stop: %d evaluations without a better dev %s", stale, settings.select_on)
                    stopped_early = True
                    break
            if step >= total:
                break
        epoch += 1
    bar.close()
    if best_state is None:  # every dev value undefined: keep the last model
        log.warning("dev %s was never defined; the last checkpoint is evaluated", settings.select_on)
        best = {"step": step, "epoch": round(step / per_epoch, 3), "dev": history[-1] if history else {}}
    else:
        model.load_state_dict(best_state)

    test_probs = combine_windows(predict_rows(model, encoded["test"], settings.eval_batch_size, torch_device,
                                              autocast), encoded["test"], settings.aggregate)  # fmt: skip
    test = evaluate(splits["test"].labels, test_probs)
    log.info("%s seed %d: test %s", task, seed, ", ".join(f"{m} {_fmt(test[m])}" for m in SCALAR_METRICS))
    result = {
        "task": task,
        "seed": seed,
        "init": settings.init,
        "encoder": None if settings.init == "scratch" else str(model_dir),
        "k": k,
        "n_classes": n_classes,
        "headline": settings.headline,
        "select_on": settings.select_on,
        "test": test,
        "best": best,
        "training": {
            "steps": step,
            "planned_steps": total,
            "steps_per_epoch": per_epoch,
            "stopped_early": stopped_early,
            "train_seconds": round(train_seconds, 3),
            "train_rows_per_s": round(trained_rows / max(train_seconds, 1e-9), 2),
            "device": str(torch_device),
            "precision": precision,
            "parameters": count_parameters(model)["total"],
        },
        "data": {name: {"sequences": len(splits[name]), "rows": len(encoded[name]),
                        "class_counts": np.bincount(splits[name].labels, minlength=n_classes).tolist()}
                 for name in SPLIT_NAMES},  # fmt: skip
        "settings": _jsonable(asdict(settings)),
    }
    save_model(model.cpu(), outputs.model, k)
    write_predictions(outputs.predictions, splits["test"], test_probs)
    write_history(outputs.history, history, HISTORY_FIELDS)
    write_json(outputs.metrics, result)
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


# --------------------------------------------------------------------------- outputs




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
