"""Baselines on exactly the fine-tuning splits: k-mer logistic regression and a DeepBind-like CNN.

They answer the honest question of the benchmark: does the language model beat
simple models trained on the same train split, selected on the same dev split and
scored once on the same test split?

``kmer_lr``
    Counts of every k-mer for each k in ``k`` (k-mers with a base other than
    A/C/G/T are skipped; with ``canonical`` a k-mer and its reverse complement
    are one feature), divided by the sequence's number of k-mers, scaled to unit
    variance, and a scikit-learn ``LogisticRegression`` (L2, lbfgs; multinomial
    for more than two classes). The regularisation strength ``C`` is chosen on
    dev (``select_on``) from the ``C`` grid. Deterministic: one run.

``cnn``
    DeepBind-style (Alipanahi et al. 2015): one-hot input (N = 0.25 each), one
    convolution of ``filters`` motif detectors of ``width`` bp, ReLU, global max
    and average pooling over the valid positions, a ``hidden``-unit dense layer
    with dropout, and a linear output. With ``both_strands`` the detectors scan
    the reverse complement as well and each keeps its best strand. Adam,
    early stopping on dev with ``patience`` epochs; the best epoch is scored on
    test. One run per seed, like the fine-tuned model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from dnabert.lm import kmer
from dnabert.lm.evaluation import Split, evaluate
from dnabert.io import InputError
from dnabert.metrics import SELECTION_METRICS, is_better

log = logging.getLogger(__name__)

BASELINES = ("kmer_lr", "cnn")
#: Complement of each 2-bit base code of :func:`dnabert.lm.kmer.base_codes` (A=0 T=1 C=2 G=3).
_COMPLEMENT_CODE = np.array([1, 0, 3, 2], dtype=np.int64)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class KmerLRSettings:
    """k-mer count logistic regression."""

    k: tuple[int, ...] = (3, 4, 5, 6)
    C: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    canonical: bool = False
    max_iter: int = 2000

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", tuple(int(k) for k in self.k))
        object.__setattr__(self, "C", tuple(float(c) for c in self.C))
        if not self.k or any(not kmer.MIN_K <= k <= kmer.MAX_K for k in self.k):
            raise InputError(None, f"k-mer lengths must be {kmer.MIN_K}..{kmer.MAX_K}, got {list(self.k)}",
                             field="baselines.kmer_lr.k")  # fmt: skip
        if not self.C or any(c <= 0 for c in self.C):
            raise InputError(None, f"C values must be positive, got {list(self.C)}", field="baselines.kmer_lr.C")
        if self.max_iter < 1:
            raise InputError(None, "must be at least 1", field="baselines.kmer_lr.max_iter")


@dataclass(frozen=True)
class CNNSettings:
    """DeepBind-like CNN."""

    filters: int = 64
    width: int = 15
    hidden: int = 32
    dropout: float = 0.3
    both_strands: bool = False
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 30
    batch_size: int = 64
    patience: int | None = 5

    def __post_init__(self) -> None:
        checks = {
            "filters": self.filters >= 1, "width": self.width >= 1, "hidden": self.hidden >= 1,
            "dropout": 0 <= self.dropout < 1, "lr": self.lr > 0, "weight_decay": self.weight_decay >= 0,
            "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1,
            "patience": self.patience is None or self.patience >= 1,
        }  # fmt: skip
        for name, ok in checks.items():
            if not ok:
                raise InputError(None, f"invalid value {getattr(self, name)!r}", field=f"baselines.cnn.{name}")


@dataclass(frozen=True)
class BaselineSettings:
    """The config's ``baselines:`` section (``models`` and ``threads`` belong to the rules)."""

    kmer_lr: KmerLRSettings = field(default_factory=KmerLRSettings)
    cnn: CNNSettings = field(default_factory=CNNSettings)
    select_on: str = "loss"

    def __post_init__(self) -> None:
        if self.select_on not in SELECTION_METRICS:
            raise InputError(None, f"must be one of {', '.join(SELECTION_METRICS)}", field="baselines.select_on")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> BaselineSettings:
        values: dict[str, Any] = {}
        for name, kind in (("kmer_lr", KmerLRSettings), ("cnn", CNNSettings)):
            given = dict(section.get(name) or {})
            allowed = {f.name for f in fields(kind)}
            bad = sorted(set(given) - allowed)
            if bad:
                raise InputError(None, f"unknown keys {', '.join(bad)}", field=f"baselines.{name}")
            values[name] = kind(**given)
        if section.get("select_on") is not None:
            values["select_on"] = section["select_on"]
        return cls(**values)


# --------------------------------------------------------------------------- k-mer logistic regression


def _canonical_map(k: int) -> np.ndarray:
    """Feature index of each k-mer index (0..4^k-1) when a k-mer and its reverse complement are merged."""
    index = np.arange(4**k, dtype=np.int64)
    digits = (index[:, None] >> (2 * np.arange(k - 1, -1, -1))[None, :]) & 3
    rc_digits = _COMPLEMENT_CODE[digits[:, ::-1]]
    rc = (rc_digits << (2 * np.arange(k - 1, -1, -1))[None, :]).sum(axis=1)
    canonical = np.minimum(index, rc)
    _, compact = np.unique(canonical, return_inverse=True)
    return compact


def kmer_counts(sequences: Sequence[str], k: int, canonical: bool = False) -> sp.csr_matrix:
    """Sparse (n, 4^k) k-mer counts (vectorised over all sequences at once)."""
    encoded = [s.encode("ascii", "replace") for s in sequences]
    lengths = np.fromiter((len(s) for s in encoded), dtype=np.int64, count=len(encoded))
    starts = np.cumsum(lengths) - lengths
    ids = kmer.window_ids(kmer.base_codes(b"".join(encoded)), k).astype(np.int64)
    row = np.repeat(np.arange(len(encoded)), lengths)[: ids.size]
    offset = np.arange(ids.size) - starts[row]
    keep = (offset <= lengths[row] - k) & (ids >= kmer.N_SPECIAL)
    columns = ids[keep] - kmer.N_SPECIAL
    width = 4**k
    if canonical:
        mapping = _canonical_map(k)
        columns, width = mapping[columns], int(mapping.max()) + 1
    data = np.ones(columns.size, dtype=np.float64)
    return sp.csr_matrix((data, (row[keep], columns)), shape=(len(encoded), width))


def kmer_features(sequences: Sequence[str], settings: KmerLRSettings) -> sp.csr_matrix:
    """k-mer frequencies for every k in the settings, side by side."""
    blocks = []
    for k in settings.k:
        counts = kmer_counts(sequences, k, settings.canonical)
        totals = np.asarray(counts.sum(axis=1)).ravel()
        blocks.append(sp.diags(1.0 / np.maximum(totals, 1.0)) @ counts)
    return sp.hstack(blocks, format="csr")


def run_kmer_lr(
    splits: Mapping[str, Split], n_classes: int, settings: KmerLRSettings, select_on: str
) -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
    """Fit one model per ``C``, keep the best on dev, score it on test: (test metrics, test probs, info)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    features = {name: kmer_features(split.sequences, settings) for name, split in splits.items()}
    scaler = StandardScaler(with_mean=False).fit(features["train"])
    scaled = {name: scaler.transform(x) for name, x in features.items()}
    best: tuple[float | None, float, Any, dict[str, Any]] = (None, 0.0, None, {})
    grid = []
    for C in settings.C:
        model = LogisticRegression(C=C, max_iter=settings.max_iter, solver="lbfgs")
        model.fit(scaled["train"], splits["train"].labels)
        dev = evaluate(splits["dev"].labels, _full_proba(model, scaled["dev"], n_classes))
        grid.append({"C": C, "dev_loss": dev["loss"], f"dev_{select_on}": dev[select_on]})
        log.info("kmer_lr C=%g: dev loss %.4f, MCC %.4f, AUROC %s", C, dev["loss"], dev["mcc"], dev["auroc"])
        if best[2] is None or is_better(select_on, dev[select_on], best[0]):
            best = (dev[select_on], C, model, dev)
    _, C, model, dev = best
    probs = _full_proba(model, scaled["test"], n_classes)
    info = {"C": C, "grid": grid, "dev": dev, "features": int(scaled["train"].shape[1])}
    return evaluate(splits["test"].labels, probs), probs, info


def _full_proba(model, x, n_classes: int) -> np.ndarray:
    """Probabilities for every class 0..C-1 (columns of classes the model never saw stay 0)."""
    out = np.zeros((x.shape[0], n_classes))
    out[:, model.classes_] = model.predict_proba(x)
    return out


# --------------------------------------------------------------------------- CNN


def base_code_matrix(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, L) base codes (A=0 T=1 C=2 G=3, other 4; padding 5) and the lengths."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    width = int(lengths.max(initial=1))
    out = np.full((len(sequences), width), 5, dtype=np.uint8)
    codes = kmer.base_codes(b"".join(s.encode("ascii", "replace") for s in sequences))
    row = np.repeat(np.arange(len(sequences)), lengths)
    col = np.arange(codes.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[row, col] = codes
    return out, lengths


def one_hot(codes: torch.Tensor) -> torch.Tensor:
    """(B, L) codes -> (B, 4, L) one-hot in A/T/C/G channel order; N = 0.25 each, padding 0."""
    table = torch.zeros(6, 4)
    table[:4] = torch.eye(4)
    table[4] = 0.25
    return table[codes.long()].transpose(1, 2)


class DeepBindCNN(nn.Module):
    """Convolution, ReLU, masked global max + average pooling, dense, output (DeepBind-like)."""

    def __init__(self, n_classes: int, settings: CNNSettings):
        super().__init__()
        self.width = settings.width
        self.both_strands = settings.both_strands
        self.conv = nn.Conv1d(4, settings.filters, settings.width)
        self.head = nn.Sequential(
            nn.Dropout(settings.dropout),
            nn.Linear(2 * settings.filters, settings.hidden),
            nn.ReLU(),
            nn.Dropout(settings.dropout),
            nn.Linear(settings.hidden, n_classes),
        )

    def _scan(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.conv(x))
        mask = valid[:, None, : h.shape[2]]
        top = h.masked_fill(~mask, float("-inf")).amax(dim=2)
        mean = (h * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1)
        return top, mean

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits for (B, L) base codes of sequences with the given lengths."""
        if codes.shape[1] < self.width:  # shorter than a detector: pad with zeros
            codes = nn.functional.pad(codes, (0, self.width - codes.shape[1]), value=5)
        x = one_hot(codes)
        positions = torch.arange(codes.shape[1] - self.width + 1, device=codes.device)
        valid = positions[None, :] <= (lengths[:, None] - self.width).clamp(min=0)
        top, mean = self._scan(x, valid)
        if self.both_strands:
            # Reverse complement: complement = channel swap A<->T, C<->G; reverse each sequence in place.
            index = (lengths[:, None] - 1 - torch.arange(codes.shape[1], device=codes.device)[None, :])
            inside = index >= 0
            rc_codes = torch.where(inside, codes.gather(1, index.clamp(min=0)), torch.full_like(codes, 5))
            rc = one_hot(rc_codes)[:, [1, 0, 3, 2], :]
            rc_top, rc_mean = self._scan(rc, valid)
            top, mean = torch.maximum(top, rc_top), torch.maximum(mean, rc_mean)
        return self.head(torch.cat([top, mean], dim=1))


@torch.inference_mode()
def cnn_predict(model: DeepBindCNN, codes: np.ndarray, lengths: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (eval mode, no gradients)."""
    model.eval()
    out = []
    for start in range(0, len(lengths), batch_size):
        part = lengths[start : start + batch_size]
        width = int(part.max())
        logits = model(torch.from_numpy(codes[start : start + batch_size, :width].astype(np.int64)),
                       torch.from_numpy(part))  # fmt: skip
        out.append(torch.softmax(logits.float(), dim=-1).numpy())
    return np.concatenate(out).astype(np.float64)


def run_cnn(
    splits: Mapping[str, Split], n_classes: int, settings: CNNSettings, select_on: str, seed: int
) -> tuple[dict[str, Any], np.ndarray, dict[str, Any]]:
    """Train with early stopping on dev, score the best epoch on test: (test metrics, test probs, info)."""
    data = {name: base_code_matrix(split.sequences) for name, split in splits.items()}
    labels = torch.from_numpy(splits["train"].labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DeepBindCNN(n_classes, settings)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        rng = np.random.default_rng(seed)
        best_value, best_state, best_epoch, best_dev, stale = None, None, 0, {}, 0
        history = []
        started = time.perf_counter()
        codes, lengths = data["train"]
        for epoch in range(1, settings.epochs + 1):
            model.train()
            order = rng.permutation(len(lengths))
            total_loss = 0.0
            for start in range(0, order.size, settings.batch_size):
                rows = order[start : start + settings.batch_size]
                width = int(lengths[rows].max())
                logits = model(torch.from_numpy(codes[rows, :width].astype(np.int64)), torch.from_numpy(lengths[rows]))
                loss = nn.functional.cross_entropy(logits, labels[rows])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach()) * rows.size
            dev = evaluate(splits["dev"].labels, cnn_predict(model, *data["dev"]))
            improved = is_better(select_on, dev[select_on], best_value)
            history.append({"epoch": epoch, "train_loss": total_loss / order.size, "dev_loss": dev["loss"],
                            f"dev_{select_on}": dev[select_on]})  # fmt: skip
            if improved:
                best_value, best_epoch, best_dev, stale = dev[select_on], epoch, dev, 0
                best_state = {name: t.detach().clone() for name, t in model.state_dict().items()}
            else:
                stale += 1
            if settings.patience is not None and stale >= settings.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    probs = cnn_predict(model, *data["test"])
    seconds = time.perf_counter() - started
    log.info("cnn seed %d: best epoch %d of %d (%.1f s)", seed, best_epoch, len(history), seconds)
    info = {"best_epoch": best_epoch, "epochs_run": len(history), "dev": best_dev, "history": history}
    return evaluate(splits["test"].labels, probs), probs, info


# --------------------------------------------------------------------------- one baseline on one task


def run_baseline(
    name: str, splits: Mapping[str, Split], n_classes: int, settings: BaselineSettings, seeds: Sequence[int]
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Run a baseline (once for ``kmer_lr``, once per seed for ``cnn``): metrics, probabilities, info by run."""
    metrics: dict[str, dict[str, Any]] = {}
    probs: dict[str, np.ndarray] = {}
    info: dict[str, dict[str, Any]] = {}
    if name == "kmer_lr":
        metrics["deterministic"], probs["deterministic"], info["deterministic"] = run_kmer_lr(
            splits, n_classes, settings.kmer_lr, settings.select_on
        )
    elif name == "cnn":
        for seed in seeds:
            key = str(seed)
            metrics[key], probs[key], info[key] = run_cnn(splits, n_classes, settings.cnn, settings.select_on, seed)
    else:
        raise ValueError(f"unknown baseline {name!r}; use one of {', '.join(BASELINES)}")
    return metrics, probs, info


def settings_dict(settings: BaselineSettings, name: str) -> dict[str, Any]:
    """The settings of one baseline, JSON-ready."""
    data = asdict(getattr(settings, name))
    data["select_on"] = settings.select_on
    return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}
