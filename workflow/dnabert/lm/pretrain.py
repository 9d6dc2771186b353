"""Masked-language-model pretraining of a k-mer BERT on the tokenised corpus (DNABERT's recipe).

Run as ``python -m dnabert.lm.pretrain`` (one process) or under
``torchrun --nproc_per_node N -m dnabert.lm.pretrain`` (DistributedDataParallel; NCCL
on GPUs, gloo on CPUs). The Snakemake rule ``pretrain_mlm`` does either.

Data. The corpus pieces (``[CLS] k-mers [SEP]``, 7 to 512 tokens) of the
``splits.dev`` chromosomes are held out for evaluation; the rest are trained on.
Each epoch is a seeded permutation of the training pieces cut into pools of about
``POOL_BATCHES`` micro-batches; a pool is sorted by length and cut into
micro-batches of at most ``batch_tokens`` padded tokens (lengths padded to a
multiple of 8), and the micro-batches of the epoch are shuffled. Padding stays
around 1 % of tokens. Micro-batch ``i`` of the run (counted over epochs) is a
pure function of ``(seed, i)``, and so is its masking (:mod:`dnabert.lm.masking`),
so the data position of a checkpoint is one integer, and a run split over
``W`` processes with ``A`` accumulation steps sees exactly the micro-batches
that one process with ``W * A`` accumulation steps sees.

Step. Optimizer step ``s`` uses micro-batches ``consumed + [0, W*A)``; process
``r`` runs ``consumed + r*A + [0, A)``. The loss is the summed cross-entropy
over masked tokens divided by the number of masked tokens of the whole step
(all micro-batches, all processes: one all-reduce per step that also carries
the stop and checkpoint flags), so gradients are the exact token mean whatever
the split. The MLM head (transform + 4^k-way decoder) runs only at the masked
positions, gathered from the encoder output. AdamW (no decay on biases and
LayerNorm), linear warm-up then linear decay to zero, gradient clipping,
bf16 autocast on CUDA and fp32 on CPU, optional ``torch.compile``.

Checkpoints. Every ``checkpoint_every_steps`` steps, every
``checkpoint_every_minutes`` minutes and at the end, rank 0 writes
``checkpoints/step_NNNNNNNN/`` (model.safetensors, training.pt with optimizer,
scheduler and every rank's RNG states, state.json) to a temporary directory and
renames it into place; the newest ``keep_checkpoints`` are kept. A new run
resumes from the newest checkpoint whose *fingerprint* (everything that shapes
the trajectory: model, masking, optimizer, batches, seed, corpus, held-out
chromosomes) matches, and reaches bit-identical weights on CPU. SIGTERM or
SIGUSR1 (cluster pre-emption) makes every process finish its step, write a
checkpoint and exit with status 143; rerunning the job continues from there.

Outputs: the Hugging Face model directory (config.json, model.safetensors,
tokenizer), ``metrics.json`` (held-out masked-token loss and accuracy, steps,
tokens, tokens/s), a CSV training log and a training-curve plot.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_model, save_model as save_safetensors_model
from torch import nn
from tqdm.auto import tqdm
from transformers import BertForMaskedLM

from dnabert.lm import kmer
from dnabert.lm.corpus import MANIFEST, CorpusReader
from dnabert.io import InputError, PathLike, write_text_atomic
from dnabert.lm.masking import mask_tokens, seeded_generator
from dnabert.lm.training import autocast_for, param_groups, write_history
from dnabert.lm.models import ModelSettings, count_parameters, load_pretrained, new_model, save_model

log = logging.getLogger("dnabert.lm.pretrain")  # also when run as __main__

PAD_MULTIPLE = 8  # batch lengths are padded to a multiple of this (tensor-core friendly, fewer shapes)
POOL_BATCHES = 64  # micro-batches per length-sorting pool
EVAL_STREAM = 0x5EED_E7A1  # masking stream of the evaluation batches, apart from training's
PREEMPTED_EXIT = 143  # exit status after a checkpoint written on SIGTERM (128 + 15)
CHECKPOINT_PATTERN = re.compile(r"^step_(\d{8})$")
HISTORY_FIELDS = (
    "step", "tokens", "elapsed_s", "lr", "mask_rate", "train_loss", "train_accuracy",
    "eval_loss", "eval_accuracy", "tokens_per_s", "padding_fraction",
)


# --------------------------------------------------------------------------- settings


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
        if self.precision not in ("auto", "fp32", "bf16"):
            raise InputError(None, f"must be auto, fp32 or bf16, got {self.precision!r}", field="precision")

    @classmethod
    def from_config(cls, section: dict[str, Any], k: int) -> PretrainSettings:
        """Settings from the config's ``pretrain:`` mapping (``gpus`` and ``threads`` belong to the rule)."""
        section = dict(section)
        for key in ("gpus", "threads"):
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
        """The settings that shape the training trajectory (not logging, checkpointing or compilation)."""
        data = asdict(self)
        for name in ("checkpoint_every_steps", "checkpoint_every_minutes", "keep_checkpoints", "eval_every_steps",
                     "eval_pieces", "log_every_steps", "compile", "gradient_accumulation"):
            data.pop(name)
        return data


@dataclass(frozen=True)
class Outputs:
    """Where a run writes."""

    model: Path
    metrics: Path
    history: Path
    plot: Path
    checkpoints: Path

    @classmethod
    def under(cls, directory: PathLike) -> Outputs:
        """The standard layout under one directory (results/pretrain/)."""
        directory = Path(directory)
        return cls(directory / "model", directory / "metrics.json", directory / "training_log.csv",
                   directory / "loss.png", directory / "checkpoints")


class Preempted(RuntimeError):
    """Training stopped on a signal after writing a checkpoint; rerun to resume."""

    def __init__(self, step: int, signum: int):
        self.step = step
        self.signum = signum
        super().__init__(f"stopped by signal {signal.Signals(signum).name} at step {step}; checkpoint written")


# --------------------------------------------------------------------------- data


class PieceStore:
    """Corpus pieces gathered into padded batches: vectorised over the memory-mapped shards."""

    def __init__(self, directory: PathLike):
        self.reader = CorpusReader(directory)
        self.k = self.reader.k
        self.directory = Path(directory)
        self.chromosomes = self.reader.chromosomes
        shards = self.reader.manifest["shards"]
        self._tokens = [np.load(self.directory / entry["tokens_file"], mmap_mode="r") for entry in shards]
        offsets = [np.load(self.directory / entry["offsets_file"]).astype(np.int64) for entry in shards]
        loci = [np.load(self.directory / entry["loci_file"], mmap_mode="r") for entry in shards]
        self._starts = [o[:-1] for o in offsets]
        self.lengths = np.concatenate([np.diff(o) for o in offsets]) if offsets else np.empty(0, np.int64)
        self.chrom = np.concatenate([np.asarray(l[:, 0]) for l in loci]) if loci else np.empty(0, np.int64)
        self._first = np.concatenate(([0], np.cumsum([o.size - 1 for o in offsets]))).astype(np.int64)
        if self.lengths.size and self.lengths.max() > kmer.MAX_TOKENS:
            raise InputError(self.directory / MANIFEST, f"pieces longer than {kmer.MAX_TOKENS} tokens")

    def __len__(self) -> int:
        return int(self.lengths.size)

    def identity(self) -> dict[str, Any]:
        """What identifies the corpus content (for checkpoint fingerprints)."""
        manifest = self.reader.manifest
        return {key: manifest.get(key) for key in ("k", "seed", "settings", "pieces", "tokens", "bases", "chromosomes")}

    def gather(self, pieces: np.ndarray, pad_multiple: int = PAD_MULTIPLE) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (rows, L) int64 padded with [PAD] to a multiple of ``pad_multiple``, and row lengths."""
        pieces = np.asarray(pieces, dtype=np.int64)
        lengths = self.lengths[pieces]
        width = int(-(-int(lengths.max(initial=1)) // pad_multiple) * pad_multiple)
        out = np.zeros((pieces.size, width), dtype=np.int64)
        shard = np.searchsorted(self._first, pieces, side="right") - 1
        for s in np.unique(shard).tolist():
            rows = np.flatnonzero(shard == s)
            local = pieces[rows] - self._first[s]
            n = lengths[rows]
            before = np.cumsum(n) - n
            position = np.arange(int(n.sum())) - np.repeat(before, n)
            flat = np.repeat(self._starts[s][local], n) + position
            out[np.repeat(rows, n), position] = self._tokens[s][flat]
        return out, lengths


def cut_batches(order: np.ndarray, lengths: np.ndarray, pool_end: np.ndarray, batch_tokens: int) -> list[np.ndarray]:
    """Cut length-sorted (descending within each pool) pieces into batches of at most ``batch_tokens``.

    ``order`` are piece ids, ``lengths`` their token counts, ``pool_end[i]`` the index
    after the last piece of piece ``i``'s pool (batches never cross pools).
    """
    batches = []
    i, n = 0, order.size
    while i < n:
        width = -(-int(lengths[i]) // PAD_MULTIPLE) * PAD_MULTIPLE
        j = min(i + max(1, batch_tokens // width), int(pool_end[i]))
        batches.append(order[i:j])
        i = j
    return batches


def sorted_pools(
    pieces: np.ndarray, lengths: np.ndarray, pool_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces (in the given order) grouped into pools of about ``pool_tokens``, each sorted by length descending.

    Returns the reordered pieces, their lengths and each position's pool end.
    """
    pool = np.cumsum(lengths) // max(1, pool_tokens)
    order = np.lexsort((-lengths, pool))
    pool = pool[order]
    bounds = np.flatnonzero(np.diff(pool)) + 1
    ends = np.append(bounds, pool.size)
    pool_end = np.repeat(ends, np.diff(np.concatenate(([0], ends))))
    return pieces[order], lengths[order], pool_end


class BatchPlan:
    """The run's micro-batches, epoch after epoch: micro-batch ``i`` is a pure function of ``(seed, i)``."""

    def __init__(self, pieces: np.ndarray, lengths: np.ndarray, batch_tokens: int, seed: int):
        if pieces.size == 0:
            raise ValueError("no training pieces")
        self.pieces = np.asarray(pieces, dtype=np.int64)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_tokens = batch_tokens
        self.seed = seed
        self.epoch_starts: list[int] = [0]  # first position of each planned epoch, then the end of the last
        self._cache: dict[int, list[np.ndarray]] = {}

    def epoch(self, epoch: int) -> list[np.ndarray]:
        """The micro-batches (piece ids) of one epoch, in training order."""
        if epoch not in self._cache:
            rng = np.random.default_rng([self.seed, epoch])
            perm = rng.permutation(self.pieces.size)
            pieces, lengths, pool_end = sorted_pools(
                self.pieces[perm], self.lengths[perm], POOL_BATCHES * self.batch_tokens
            )
            batches = cut_batches(pieces, lengths, pool_end, self.batch_tokens)
            self._cache = {e: b for e, b in self._cache.items() if e >= epoch - 1}
            self._cache[epoch] = [batches[i] for i in rng.permutation(len(batches))]
        return self._cache[epoch]

    def at(self, position: int) -> np.ndarray:
        """Micro-batch number ``position`` of the run."""
        while position >= self.epoch_starts[-1]:
            self.epoch_starts.append(self.epoch_starts[-1] + len(self.epoch(len(self.epoch_starts) - 1)))
        epoch = int(np.searchsorted(self.epoch_starts, position, side="right")) - 1
        return self.epoch(epoch)[position - self.epoch_starts[epoch]]

    def epochs_done(self, position: int) -> float:
        """Epochs completed before micro-batch ``position`` (fractional)."""
        self.at(position)
        epoch = int(np.searchsorted(self.epoch_starts, position, side="right")) - 1
        size = self.epoch_starts[epoch + 1] - self.epoch_starts[epoch]
        return epoch + (position - self.epoch_starts[epoch]) / size


@dataclass
class MicroBatch:
    """One masked micro-batch, ready for the model (CPU tensors until :meth:`to`)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor | None
    positions: torch.Tensor  # flat (row * L + col) indices of the masked tokens
    targets: torch.Tensor  # their original ids
    real_tokens: int
    padded_tokens: int

    @property
    def masked(self) -> int:
        return int(self.targets.numel())

    def to(self, device: torch.device) -> MicroBatch:
        if device.type == "cpu":
            return self
        move = lambda t: None if t is None else t.pin_memory().to(device, non_blocking=True)  # noqa: E731
        return replace(self, input_ids=move(self.input_ids), attention_mask=move(self.attention_mask),
                       positions=move(self.positions), targets=move(self.targets))


def make_micro_batch(
    store: PieceStore, pieces: np.ndarray, k: int, rate: float, generator: torch.Generator
) -> MicroBatch:
    """Gather, pad and span-mask one micro-batch."""
    ids, lengths = store.gather(pieces)
    input_ids = torch.from_numpy(ids)
    batch = mask_tokens(input_ids, k, rate, generator)
    positions = torch.nonzero(batch.masked.reshape(-1), as_tuple=False).squeeze(1)
    targets = input_ids.reshape(-1)[positions]
    real = int(lengths.sum())
    attention = None
    if real != ids.size:
        attention = torch.from_numpy((np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64))
    return MicroBatch(batch.input_ids, attention, positions, targets, real, int(ids.size))


def split_pieces(
    store: PieceStore, dev_chromosomes: Sequence[str], eval_pieces: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and evaluation piece ids: the ``splits.dev`` chromosomes are held out.

    At most ``eval_pieces`` held-out pieces are evaluated (a seeded sample). Without
    dev chromosomes in the corpus a seeded random ``min(eval_pieces, 5 %)`` of the
    pieces is held out instead, with a warning.
    """
    rng = np.random.default_rng([seed, 7])
    everything = np.arange(len(store))
    wanted = [name for name in dev_chromosomes if name in store.chromosomes]
    absent = sorted(set(dev_chromosomes) - set(store.chromosomes))
    if absent:
        log.warning("held-out chromosomes not in the corpus: %s", ", ".join(absent))
    if wanted:
        held = np.isin(store.chrom, [store.chromosomes.index(name) for name in wanted])
        train, candidates = everything[~held], everything[held]
        source = "pieces of the splits.dev chromosomes " + ", ".join(wanted)
        if train.size == 0:
            raise InputError(
                store.directory / MANIFEST,
                f"every corpus chromosome is a held-out dev chromosome ({', '.join(wanted)}); nothing left to train on",
                field="splits.dev",
            )
    else:
        count = max(1, min(eval_pieces, len(store) // 20))
        candidates = np.sort(rng.choice(everything, size=count, replace=False))
        train = np.setdiff1d(everything, candidates)
        source = f"a random {count} of {len(store)} pieces (no splits.dev chromosome in the corpus)"
        log.warning("no held-out dev chromosomes configured or present; evaluating on %s", source)
    if candidates.size > eval_pieces:
        candidates = np.sort(rng.choice(candidates, size=eval_pieces, replace=False))
    if train.size == 0:
        raise InputError(store.directory / MANIFEST, "the corpus has too few pieces to train on")
    return train, candidates, source


def eval_batches(store: PieceStore, pieces: np.ndarray, batch_tokens: int) -> list[np.ndarray]:
    """Length-sorted evaluation micro-batches (deterministic, no shuffling)."""
    lengths = store.lengths[pieces]
    order = np.argsort(-lengths, kind="stable")
    return cut_batches(pieces[order], lengths[order], np.full(pieces.size, pieces.size), batch_tokens)


# --------------------------------------------------------------------------- model objective


class MaskedLMObjective(nn.Module):
    """Summed MLM cross-entropy and correct predictions, with the head run only at masked positions."""

    def __init__(self, model: BertForMaskedLM):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        positions: torch.Tensor,
        targets: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        selected = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        logits = self.model.cls(selected).float()
        loss = F.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.detach().argmax(-1) == targets).sum()
        return loss, correct




# --------------------------------------------------------------------------- distributed context


@dataclass
class Dist:
    """Process-group facts; a single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def sum(self, values: Sequence[float]) -> list[float]:
        """Sum floats over all processes (one all-reduce)."""
        if not self.active:
            return [float(v) for v in values]
        tensor = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def init_distributed(device: str) -> Dist:
    """Join the torchrun process group if there is one; pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch finds no CUDA device")
    torch_device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(torch_device)
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        return Dist(dist.get_rank(), dist.get_world_size(), local_rank, torch_device)
    return Dist(device=torch_device)


# --------------------------------------------------------------------------- checkpoints


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


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def write_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    rng_states: list[dict[str, torch.Tensor]],
    fp: str,
    keep: int,
) -> Path:
    """Write ``step_NNNNNNNN/`` atomically (temporary directory, then rename); prune old ones."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step_{state.step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=directory))
    try:
        save_safetensors_model(model, str(tmp / "model.safetensors"))
        torch.save(
            {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng_states},
            tmp / "training.pt",
        )
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
) -> TrainState:
    """Restore model, optimizer, scheduler and this process's RNG from a checkpoint; return its progress."""
    payload = json.loads((path / "state.json").read_text())
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if unexpected or [m for m in missing if m not in BertForMaskedLM._tied_weights_keys]:
        raise InputError(path / "model.safetensors", f"checkpoint does not fit the model ({missing or unexpected})")
    extra = torch.load(path / "training.pt", map_location="cpu", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
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


# --------------------------------------------------------------------------- signals


class StopSignal:
    """Records SIGTERM/SIGUSR1 instead of dying, so the loop can checkpoint first."""

    SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGUSR1", None)) if s is not None)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignal:
        if _in_main_thread():
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


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --------------------------------------------------------------------------- evaluation, logs, plot


@torch.no_grad()
def evaluate(
    objective: nn.Module,
    store: PieceStore,
    batches: list[np.ndarray],
    settings: PretrainSettings,
    ctx: Dist,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> dict[str, float]:
    """Masked-token loss and accuracy on the held-out batches (fixed masking at ``masking.rate``)."""
    was_training = objective.training
    objective.eval()
    loss = correct = masked = 0.0
    for index in range(ctx.rank, len(batches), ctx.world):
        generator = seeded_generator(settings.seed, EVAL_STREAM, index)
        batch = make_micro_batch(store, batches[index], settings.k, settings.masking.rate, generator).to(ctx.device)
        with autocast():
            batch_loss, batch_correct = objective(batch.input_ids, batch.attention_mask, batch.positions, batch.targets)
        loss += float(batch_loss)
        correct += float(batch_correct)
        masked += batch.masked
    loss, correct, masked = ctx.sum([loss, correct, masked])
    objective.train(was_training)
    return {
        "loss": loss / max(masked, 1.0),
        "accuracy": correct / max(masked, 1.0),
        "masked_tokens": int(masked),
    }




def plot_history(path: Path, rows: list[dict], title: str, uniform_loss: float | None = None) -> None:
    """Training and held-out loss and accuracy against steps, as a PNG (with the uniform-guess loss)."""
    from dnabert.plots import PALETTE, figure, save

    def series(key: str) -> tuple[list[int], list[float]]:
        points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
        return [p[0] for p in points], [p[1] for p in points]

    fig, (ax_loss, ax_acc) = figure(1, 2, figsize=(10, 4), constrained_layout=True)
    panels = ((ax_loss, "loss", "masked-token cross-entropy (nats)"),
              (ax_acc, "accuracy", "masked-token accuracy (fraction)"))  # fmt: skip
    for ax, metric, label in panels:
        steps, values = series(f"train_{metric}")
        ax.plot(steps, values, lw=1.2, color=PALETTE["bert"], label="training (interval mean)")
        steps, values = series(f"eval_{metric}")
        ax.plot(steps, values, "o-", ms=4, color=PALETTE["highlight"], label="held-out")
        if metric == "loss" and uniform_loss is not None:
            ax.axhline(uniform_loss, color="grey", ls="--", lw=1, label=r"uniform guess, $\ln 4^k$")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(title)
    save(fig, path)


# --------------------------------------------------------------------------- training




def train(
    settings: PretrainSettings,
    corpus: PathLike,
    outputs: Outputs,
    dev_chromosomes: Sequence[str] = (),
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Pretrain (or resume, or only evaluate a loaded model) and write all outputs; return the metrics.

    ``on_step(step)`` is called after every completed optimizer step (tests use it to
    simulate pre-emption). Raises :class:`Preempted` after a signal-triggered checkpoint.
    """
    previous_threads = torch.get_num_threads()
    try:
        if threads:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            torch.set_num_threads(max(1, threads // (world if device != "cuda" else 1)))
        return _train(settings, corpus, outputs, dev_chromosomes, device, progress, on_step)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    settings: PretrainSettings,
    corpus: PathLike,
    outputs: Outputs,
    dev_chromosomes: Sequence[str],
    device: str,
    progress: bool | None,
    on_step: Callable[[int], None] | None,
) -> dict[str, Any]:
    ctx = init_distributed(device)
    if ctx.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if not ctx.main:
        logging.getLogger("dnabert").setLevel(logging.WARNING)
    progress = sys.stderr.isatty() if progress is None else progress

    store = PieceStore(corpus)
    if store.k != settings.k:
        raise InputError(Path(corpus) / MANIFEST, f"corpus holds {store.k}-mers but kmer is {settings.k}", field="k")
    train_ids, eval_ids, eval_source = split_pieces(store, dev_chromosomes, settings.eval_pieces, settings.seed)
    held_out = eval_batches(store, eval_ids, settings.batch_tokens)
    autocast, precision = autocast_for(ctx.device, settings.precision)
    log.info(
        "corpus %s: %d pieces for training, %d held out (%s); device %s x %d, %s",
        corpus, train_ids.size, eval_ids.size, eval_source, ctx.device, ctx.world, precision,
    )

    if settings.pretrained:
        model, _ = load_pretrained(settings.pretrained, settings.k)
    else:
        model = new_model(settings.k, settings.model, settings.seed)
    if model.config.max_position_embeddings < kmer.MAX_TOKENS:
        raise InputError(settings.pretrained, "max_position_embeddings below 512", field="max_position_embeddings")
    model.to(ctx.device)
    objective = MaskedLMObjective(model).to(ctx.device)
    n_params = count_parameters(model)
    log.info("model: %d layers, hidden %d, %d parameters (%d non-embedding)", model.config.num_hidden_layers,
             model.config.hidden_size, n_params["total"], n_params["non_embedding"])

    state = TrainState()
    steps = settings.steps if (settings.continue_pretraining or not settings.pretrained) else 0
    if steps:
        state = _train_loop(settings, store, train_ids, held_out, objective, outputs, dev_chromosomes, ctx,
                            autocast, steps, progress, on_step)

    final_eval = evaluate(objective, store, held_out, settings, ctx, autocast)
    log.info("held-out: loss %.4f, accuracy %.4f over %d masked tokens", final_eval["loss"], final_eval["accuracy"],
             final_eval["masked_tokens"])
    final_row = {"eval_loss": round(final_eval["loss"], 5), "eval_accuracy": round(final_eval["accuracy"], 5)}
    if state.history and state.history[-1]["step"] == state.step:
        state.history[-1].update(final_row)
    else:
        state.history.append({"step": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed, 3),
                              **final_row})
    metrics = {
        "k": settings.k,
        "steps": state.step,
        "tokens": state.tokens,
        "epochs": state.epochs,
        "train_seconds": round(state.elapsed, 3),
        "tokens_per_second": round(state.tokens / state.elapsed, 1) if state.elapsed else None,
        "padding_fraction": round(1 - state.tokens / state.padded_tokens, 5) if state.padded_tokens else None,
        "eval": {
            **final_eval,
            "perplexity": math.exp(min(final_eval["loss"], 50.0)),
            "mask_rate": settings.masking.rate,
            "pieces": int(eval_ids.size),
            "held_out": eval_source,
            "uniform_loss": math.log(4**settings.k),
        },
        "train": _train_summary(state.history),
        "model": {
            "layers": model.config.num_hidden_layers,
            "hidden": model.config.hidden_size,
            "heads": model.config.num_attention_heads,
            "intermediate": model.config.intermediate_size,
            "parameters": n_params,
        },
        "pretrained": settings.pretrained,
        "resumed_from_step": state.resumed_from,
        "device": ctx.device.type,
        "processes": ctx.world,
        "precision": precision,
        "settings": asdict(settings),
    }
    if ctx.main:
        save_model(model, outputs.model, settings.k)
        write_history(outputs.history, state.history, HISTORY_FIELDS)
        layers = model.config.num_hidden_layers
        title = (f"{settings.k}-mer BERT MLM: {layers} layer{'s' * (layers != 1)}, hidden {model.config.hidden_size}, "
                 f"{state.tokens:,} tokens; held-out loss {final_eval['loss']:.3f}")
        plot_history(outputs.plot, state.history, title, uniform_loss=math.log(4**settings.k))
        write_text_atomic(outputs.metrics, json.dumps(metrics, indent=2) + "\n")
    ctx.barrier()
    return metrics


def _train_summary(history: list[dict]) -> dict[str, Any]:
    losses = [(row["step"], row["train_loss"]) for row in history if row.get("train_loss") is not None]
    if not losses:
        return {}
    return {"first_logged": {"step": losses[0][0], "loss": losses[0][1]},
            "last_logged": {"step": losses[-1][0], "loss": losses[-1][1]}}


def _train_loop(
    settings: PretrainSettings,
    store: PieceStore,
    train_ids: np.ndarray,
    held_out: list[np.ndarray],
    objective: MaskedLMObjective,
    outputs: Outputs,
    dev_chromosomes: Sequence[str],
    ctx: Dist,
    autocast: Callable[[], contextlib.AbstractContextManager],
    steps: int,
    progress: bool,
    on_step: Callable[[int], None] | None,
) -> TrainState:
    """The optimisation loop with checkpoint/resume; returns the final progress."""
    opt = settings.optimizer
    model = objective.model
    optimizer = torch.optim.AdamW(
        param_groups(model, opt.weight_decay), lr=opt.lr, betas=opt.betas, eps=opt.eps,
        **({"fused": True} if ctx.device.type == "cuda" else {"foreach": True}),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: opt.lr_factor(s, steps))
    plan = BatchPlan(train_ids, store.lengths[train_ids], settings.batch_tokens, settings.seed)
    fp = fingerprint(settings, store, dev_chromosomes, ctx.world)
    # Dropout streams differ per process but are reproducible.
    torch.manual_seed(settings.seed * 1_000_003 + ctx.rank)
    state = TrainState()
    resume = find_resumable(outputs.checkpoints, fp) if ctx.main else None
    if ctx.active:
        holder = [str(resume) if resume else None]
        dist.broadcast_object_list(holder, src=0)
        resume = Path(holder[0]) if holder[0] else None
    if resume is not None:
        state = read_checkpoint(resume, model, optimizer, scheduler, ctx, settings.seed)
        plan.epoch_starts = list(state.epoch_starts)
        log.info("resuming from %s (step %d of %d)", resume, state.step, steps)
    if state.step > steps:
        raise InputError(resume, f"checkpoint is at step {state.step}, beyond the configured {steps} steps")

    engine: nn.Module = objective
    if ctx.active:
        engine = nn.parallel.DistributedDataParallel(
            objective, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None, broadcast_buffers=False
        )
    if settings.compile:
        engine = torch.compile(engine, dynamic=True)
    engine.train()

    per_step = ctx.world * settings.gradient_accumulation
    window = _new_window(ctx.device)
    last_checkpoint_time = time.monotonic()
    saved_step = state.step if resume is not None else -1
    bar = tqdm(total=steps, initial=state.step, desc="pretrain", unit="step", disable=not (progress and ctx.main))

    def checkpoint() -> None:
        nonlocal last_checkpoint_time, saved_step
        state.epoch_starts = list(plan.epoch_starts)
        states = [rng_state(ctx.device)]
        if ctx.active:
            gathered: list[Any] = [None] * ctx.world
            dist.all_gather_object(gathered, {k: v.cpu() for k, v in states[0].items()})
            states = gathered
        if ctx.main:
            write_checkpoint(outputs.checkpoints, model, optimizer, scheduler, state, states, fp,
                             settings.keep_checkpoints)
            write_history(outputs.history, state.history, HISTORY_FIELDS)
        ctx.barrier()
        last_checkpoint_time = time.monotonic()
        saved_step = state.step

    with StopSignal() as stop:
        while state.step < steps:
            started = time.perf_counter()
            step = state.step
            rate = settings.masking.rate_at(step, steps)
            first = state.consumed + ctx.rank * settings.gradient_accumulation
            batches = [
                make_micro_batch(store, plan.at(position), settings.k, rate,
                                 seeded_generator(settings.seed, position)).to(ctx.device)
                for position in range(first, first + settings.gradient_accumulation)
            ]
            due = ctx.main and (time.monotonic() - last_checkpoint_time) >= settings.checkpoint_every_minutes * 60
            total_masked, stop_flag, time_flag, step_tokens, step_padded = ctx.sum(
                [sum(b.masked for b in batches), float(stop.received is not None), float(due),
                 sum(b.real_tokens for b in batches), sum(b.padded_tokens for b in batches)]
            )
            scale = ctx.world / max(total_masked, 1.0)
            for i, batch in enumerate(batches):
                sync = ctx.active and i < len(batches) - 1
                with engine.no_sync() if sync else contextlib.nullcontext():
                    with autocast():
                        loss, correct = engine(batch.input_ids, batch.attention_mask, batch.positions, batch.targets)
                    (loss * scale).backward()
                window["loss"] += loss.detach().double()
                window["correct"] += correct.detach().double()
            if opt.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), opt.max_grad_norm)
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            state.consumed += per_step
            state.tokens += int(step_tokens)
            state.padded_tokens += int(step_padded)
            window["masked"] += total_masked
            window["tokens"] += step_tokens
            window["padded"] += step_padded
            seconds = time.perf_counter() - started
            window["seconds"] += seconds
            state.elapsed += seconds
            bar.update(1)

            row: dict[str, Any] = {}
            if state.step % settings.log_every_steps == 0 or state.step == steps or stop_flag:
                loss_sum, correct_sum, seconds = ctx.sum(
                    [float(window["loss"]), float(window["correct"]), window["seconds"]]
                )
                masked, tokens, padded = window["masked"], window["tokens"], window["padded"]
                seconds = max(seconds / ctx.world, 1e-9)
                row = {
                    "train_loss": round(loss_sum / max(masked, 1), 5),
                    "train_accuracy": round(correct_sum / max(masked, 1), 5),
                    "tokens_per_s": round(tokens / seconds, 1),
                    "padding_fraction": round(1 - tokens / max(padded, 1), 5),
                    "lr": lr,
                    "mask_rate": rate,
                }
                window = _new_window(ctx.device)
                log.info("step %d/%d: loss %.4f, accuracy %.3f, lr %.3g, mask %.2f, %.0f tokens/s, padding %.1f%%",
                         state.step, steps, row["train_loss"], row["train_accuracy"], lr, rate,
                         row["tokens_per_s"], 100 * row["padding_fraction"])
                bar.set_postfix(loss=f"{row['train_loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
            if state.step % settings.eval_every_steps == 0 and state.step < steps:
                result = evaluate(objective, store, held_out, settings, ctx, autocast)
                row.update(eval_loss=round(result["loss"], 5), eval_accuracy=round(result["accuracy"], 5))
                log.info("step %d: held-out loss %.4f, accuracy %.3f", state.step, result["loss"], result["accuracy"])
            if row:
                state.history.append({"step": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed, 3),
                                      **row})
            if stop_flag:
                checkpoint()
                bar.close()
                raise Preempted(state.step, stop.received or signal.SIGTERM)
            if state.step % settings.checkpoint_every_steps == 0 or time_flag or state.step == steps:
                checkpoint()
            if on_step is not None:
                on_step(state.step)
    bar.close()
    state.epochs = round(plan.epochs_done(state.consumed), 4)
    if saved_step != state.step:
        checkpoint()
    return state


def _new_window(device: torch.device) -> dict[str, Any]:
    """Accumulators of one logging interval (loss and correct stay on the device: no per-step sync)."""
    zero = lambda: torch.zeros((), dtype=torch.float64, device=device)  # noqa: E731
    return {"loss": zero(), "correct": zero(), "masked": 0.0, "tokens": 0.0, "padded": 0.0, "seconds": 0.0}


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dnabert.lm.pretrain",
        description="MLM pretraining of a k-mer BERT (DNABERT). Run under torchrun for several GPUs.",
    )
    parser.add_argument("--corpus", required=True, type=Path, help="corpus directory (results/corpus/k6)")
    parser.add_argument("--kmer", required=True, type=int, help="k-mer length (must match the corpus)")
    parser.add_argument("--settings", required=True, help="the pretrain: config section as JSON, or @file.json")
    parser.add_argument("--dev-chromosomes", nargs="*", default=[], help="held-out chromosomes (splits.dev)")
    parser.add_argument("--model", required=True, type=Path, help="output Hugging Face model directory")
    parser.add_argument("--metrics", required=True, type=Path, help="output metrics.json")
    parser.add_argument("--history", required=True, type=Path, help="output training log (CSV)")
    parser.add_argument("--plot", required=True, type=Path, help="output training-curve PNG")
    parser.add_argument("--checkpoints", required=True, type=Path, help="checkpoint directory (kept for resuming)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (split among CPU processes)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; return the exit status (2: bad input, 143: pre-empted)."""
    text = Path(args.settings[1:]).read_text() if args.settings.startswith("@") else args.settings
    try:
        settings = PretrainSettings.from_config(json.loads(text), args.kmer)
        outputs = Outputs(args.model, args.metrics, args.history, args.plot, args.checkpoints)
        train(settings, args.corpus, outputs, args.dev_chromosomes, device=args.device, threads=args.threads)
    except Preempted as stopped:
        log.warning("%s; rerun to resume", stopped)
        return PREEMPTED_EXIT
    except (InputError, json.JSONDecodeError, TypeError) as err:
        log.error("%s", err)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: logging to stderr (the rule's log), then :func:`run`."""
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
