"""Per-nucleotide attention as DNABERT computes it, and integrated gradients as a cross-check.

Attention (Ji et al. 2021, ``run_finetune.py --visualize``): in one layer (default the
last), the attention from ``[CLS]`` to each k-mer token, summed over heads (or some
heads); ``[CLS]``, ``[SEP]`` and padding are left out. Each k-mer's score is added to
its k bases and each base's total divided by the number of k-mers covering it; the
per-base vector is then scaled to unit L2 norm. Weights come from the eager attention
kernel (SDPA returns none), captured by a forward hook on the chosen layer only, so
memory stays at one ``[CLS]`` row per head. Sequences longer than one model input are
split into consecutive windows of k-mers, and the windows' k-mer scores are joined.

Integrated gradients (Sundararajan et al. 2017): the target-class logit's gradient with
respect to the k-mer embeddings along a straight path from a baseline ([PAD] embeddings
at every k-mer position; [CLS]/[SEP] kept) to the input, times (input - baseline),
summed over the hidden dimension and spread over bases the same way (signed, not
normalised). Its agreement with attention is reported per sequence.
"""

from __future__ import annotations

import contextlib
import logging
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from dnabert.lm.inference import Encoded, encode
from dnabert.io import InputError, PathLike, atomic_path
from dnabert.lm.kmer import PAD_ID

log = logging.getLogger(__name__)

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------- spreading


def spread_kmer_scores(kmer_scores: np.ndarray, k: int) -> np.ndarray:
    """Per-base scores of one sequence: each k-mer's score over its k bases, averaged by coverage.

    ``kmer_scores`` has one value per k-mer (n), the result one per base (n + k - 1).
    """
    scores = np.asarray(kmer_scores, dtype=np.float64)
    if scores.size == 0:
        return np.zeros(0)
    total = np.convolve(scores, np.ones(k))
    coverage = np.convolve(np.ones(scores.size), np.ones(k))
    return total / coverage


def unit_norm(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to unit L2 norm (unchanged if all zero)."""
    norm = float(np.linalg.norm(values))
    return values / norm if norm > 0 else values


# --------------------------------------------------------------------------- scores container


@dataclass
class BaseScores:
    """Ragged per-base scores of many sequences: sequence ``i`` is ``values[offsets[i]:offsets[i+1]]``."""

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_list(cls, arrays: Sequence[np.ndarray]) -> BaseScores:
        lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        values = np.concatenate(arrays).astype(np.float32) if arrays else np.zeros(0, np.float32)
        return cls(values, offsets)

    def __len__(self) -> int:
        return self.offsets.size - 1

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def to_list(self) -> list[np.ndarray]:
        return [self[i] for i in range(len(self))]

    def matrix(self, rows: np.ndarray | None = None, fill: float = np.nan) -> np.ndarray:
        """Rows (default all) padded with ``fill`` to the longest into one 2-D array."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        out = np.full((rows.size, int(lengths.max(initial=0))), fill, dtype=np.float64)
        for r, i in enumerate(rows):
            out[r, : lengths[r]] = self[int(i)]
        return out


# --------------------------------------------------------------------------- model plumbing


def use_eager_attention(model: torch.nn.Module) -> torch.nn.Module:
    """Switch a transformers model to the eager attention kernel (the one that returns weights)."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:  # older transformers
        model.config._attn_implementation = "eager"
    return model


def _attention_module(model: torch.nn.Module, layer: int) -> torch.nn.Module:
    layers = model.bert.encoder.layer
    if not -len(layers) <= layer < len(layers):
        raise ValueError(f"layer {layer} out of range: the model has {len(layers)} layers")
    return layers[layer].attention.self


def _kmer_rows(encoded: Encoded, row_scores: dict[int, np.ndarray]) -> list[np.ndarray]:
    """Per input sequence, the k-mer scores of its rows (windows) joined in order."""
    per_sequence: list[list[np.ndarray]] = [[] for _ in range(encoded.n_sequences)]
    for row in range(len(encoded)):  # rows of one sequence are consecutive and in order
        per_sequence[int(encoded.sequence_index[row])].append(row_scores[row])
    return [np.concatenate(parts) if parts else np.zeros(0) for parts in per_sequence]


def _score_kmers(
    model: torch.nn.Module,
    encoded: Encoded,
    score_fn: ScoreFn,
    batch_size: int,
    device: torch.device,
    progress: bool,
    desc: str,
) -> list[np.ndarray]:
    """Run ``score_fn(input_ids, attention_mask) -> (rows, tokens)`` over length-sorted batches.

    Returns per-sequence k-mer scores (token positions 1 .. length-2 of each row).
    """
    order = np.argsort(encoded.lengths, kind="stable")
    lengths = encoded.lengths
    row_scores: dict[int, np.ndarray] = {}
    starts = range(0, order.size, batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = encoded.batch(rows)
        token_scores = score_fn(input_ids.to(device), attention_mask.to(device)).float().cpu().numpy()
        for r, row in enumerate(rows):
            row_scores[int(row)] = token_scores[r, 1 : lengths[row] - 1].astype(np.float64)
    return _kmer_rows(encoded, row_scores)


def _check_sequences(sequences: Sequence[str], k: int) -> None:
    for i, seq in enumerate(sequences):
        if len(seq) < k:
            raise InputError(None, f"sequence {i} is {len(seq)} bp, shorter than k={k}", field="sequence")


# --------------------------------------------------------------------------- attention


def attention_scores(
    model: torch.nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    layer: int = -1,
    heads: Sequence[int] | None = None,
    batch_size: int = 64,
    device: torch.device | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    progress: bool = False,
) -> BaseScores:
    """DNABERT's per-nucleotide attention of every sequence (unit L2 norm each).

    ``layer`` indexes the encoder layers (-1: last); ``heads`` selects heads to sum
    (None: all). The model is switched to eager attention for this call and back after.
    """
    _check_sequences(sequences, k)
    device = device or next(model.parameters()).device
    n_heads = model.config.num_attention_heads
    head_index = list(range(n_heads)) if heads is None else list(heads)
    if not head_index or any(not 0 <= h < n_heads for h in head_index):
        raise ValueError(f"heads must be indices in 0..{n_heads - 1}, got {heads}")
    module = _attention_module(model, layer)
    captured: list[torch.Tensor] = []

    def keep_cls_row(_module, _inputs, outputs):
        weights = outputs[1]
        if weights is None:
            raise RuntimeError("attention weights not returned: the model is not using eager attention")
        captured.append(weights[:, head_index, 0, :].float().sum(dim=1))

    @torch.inference_mode()
    def score(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        captured.clear()
        with autocast():
            model(input_ids=input_ids, attention_mask=attention_mask)
        return captured[0]

    previous = model.config._attn_implementation
    was_training = model.training
    use_eager_attention(model).eval()
    handle = module.register_forward_hook(keep_cls_row)
    try:
        encoded = encode(list(sequences), k, overflow="split")
        kmer_scores = _score_kmers(model, encoded, score, batch_size, device, progress, "attention")
    finally:
        handle.remove()
        if previous != "eager" and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)
        model.train(was_training)
    return BaseScores.from_list([unit_norm(spread_kmer_scores(s, k)) for s in kmer_scores])


# --------------------------------------------------------------------------- integrated gradients


def integrated_gradients(
    model: torch.nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    target: int = 1,
    steps: int = 32,
    batch_size: int = 32,
    device: torch.device | None = None,
    progress: bool = False,
) -> BaseScores:
    """Per-base integrated gradients of the ``target`` logit (midpoint Riemann sum over ``steps``)."""
    _check_sequences(sequences, k)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not 0 <= target < model.config.num_labels:
        raise ValueError(f"target class {target} out of range for {model.config.num_labels} classes")
    device = device or next(model.parameters()).device
    embeddings = model.get_input_embeddings()
    alphas = (torch.arange(steps, dtype=torch.float32, device=device) + 0.5) / steps

    def score(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            inputs = embeddings(input_ids)
            kmer_positions = (input_ids > PAD_ID) & (attention_mask > 0)
            kmer_positions[:, 0] = False
            kmer_positions[torch.arange(input_ids.shape[0]), attention_mask.sum(1) - 1] = False
            baseline = torch.where(kmer_positions[..., None], embeddings(torch.zeros_like(input_ids)), inputs)
            delta = inputs - baseline
        total = torch.zeros_like(inputs)
        for alpha in alphas:
            path = (baseline + alpha * delta).requires_grad_(True)
            logits = model(inputs_embeds=path, attention_mask=attention_mask).logits
            (grad,) = torch.autograd.grad(logits[:, target].sum(), path)
            total += grad
        return ((total / steps) * delta).sum(dim=-1)

    was_training = model.training
    model.eval()
    try:
        encoded = encode(list(sequences), k, overflow="split")
        kmer_scores = _score_kmers(model, encoded, score, batch_size, device, progress, "integrated gradients")
    finally:
        model.train(was_training)
    return BaseScores.from_list([spread_kmer_scores(s, k) for s in kmer_scores])


def agreement(attention: BaseScores, attribution: BaseScores) -> np.ndarray:
    """Per sequence, the Spearman correlation of attention with the attribution's magnitude."""
    from scipy.stats import spearmanr

    out = np.full(len(attention), np.nan)
    for i in range(len(attention)):
        a, b = attention[i], np.abs(attribution[i])
        if a.size > 2 and np.ptp(a) > 0 and np.ptp(b) > 0:
            out[i] = spearmanr(a, b).statistic
    return out


# --------------------------------------------------------------------------- storage


def write_npz(path: PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """A compressed ``.npz`` that ``np.load`` reads, byte-identical for identical arrays.

    ``np.savez_compressed`` stamps every member with the current time; here the
    members carry a fixed (1980-01-01) timestamp instead.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


@dataclass
class ScoredSet:
    """Sequences with their labels, model probability and per-base attention, saved as one ``.npz``.

    Strings are stored as fixed-width unicode arrays, so loading needs no pickle.
    """

    sequences: list[str]
    labels: np.ndarray
    probability: np.ndarray
    attention: BaseScores
    names: list[str]
    chrom: list[str] = field(default_factory=list)
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    strand: list[str] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    #: Integrated gradients of some rows (``attribution_rows``, in that order), if computed.
    attribution: BaseScores = field(default_factory=lambda: BaseScores.from_list([]))
    attribution_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __post_init__(self) -> None:
        n = len(self.sequences)
        if not self.chrom:
            self.chrom, self.strand, self.split = [""] * n, ["."] * n, [""] * n
            self.start = np.full(n, -1, np.int64)
        if len(self.attribution) != len(self.attribution_rows):
            raise ValueError(f"{len(self.attribution)} attributions for {len(self.attribution_rows)} rows")

    def __len__(self) -> int:
        return len(self.sequences)

    def save(self, path: PathLike) -> None:
        """Write the set as a compressed ``.npz`` (atomically)."""
        lengths = np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self.sequences))
        arrays = {
            "sequence_bytes": np.frombuffer("".join(self.sequences).encode("ascii"), dtype=np.uint8),
            "sequence_offsets": np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
            "labels": np.asarray(self.labels, np.int64),
            "probability": np.asarray(self.probability, np.float32),
            "attention": self.attention.values,
            "attention_offsets": self.attention.offsets,
            "names": np.array(self.names, dtype=str),
            "chrom": np.array(self.chrom, dtype=str),
            "start": np.asarray(self.start, np.int64),
            "strand": np.array(self.strand, dtype=str),
            "split": np.array(self.split, dtype=str),
            "attribution": self.attribution.values,
            "attribution_offsets": self.attribution.offsets,
            "attribution_rows": np.asarray(self.attribution_rows, np.int64),
        }
        with atomic_path(path) as tmp:
            write_npz(tmp, arrays)

    @classmethod
    def load(cls, path: PathLike) -> ScoredSet:
        """Read a set written by :meth:`save` (no pickle)."""
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "attention scores not found")
        with np.load(path, allow_pickle=False) as data:
            text = data["sequence_bytes"].tobytes().decode("ascii")
            offsets = data["sequence_offsets"]
            sequences = [text[offsets[i] : offsets[i + 1]] for i in range(offsets.size - 1)]
            return cls(sequences, data["labels"], data["probability"],
                       BaseScores(data["attention"], data["attention_offsets"]), data["names"].tolist(),
                       data["chrom"].tolist(), data["start"], data["strand"].tolist(), data["split"].tolist(),
                       BaseScores(data["attribution"], data["attribution_offsets"]),
                       data["attribution_rows"])  # fmt: skip

    def subset(self, rows: np.ndarray) -> ScoredSet:
        """The rows ``rows`` of the set, in that order (without attributions)."""
        rows = np.asarray(rows, dtype=np.int64)
        pick = lambda values: [values[int(i)] for i in rows]  # noqa: E731
        return ScoredSet(pick(self.sequences), self.labels[rows], self.probability[rows],
                         BaseScores.from_list([self.attention[int(i)] for i in rows]), pick(self.names),
                         pick(self.chrom), self.start[rows], pick(self.strand), pick(self.split))  # fmt: skip


# --------------------------------------------------------------------------- plots


def plot_heatmap(scored: ScoredSet, path: PathLike, *, top: int = 20, title: str = "") -> None:
    """Attention of the ``top`` positives the model is surest of, one row each (DNABERT Fig. 5 style)."""
    from dnabert.plots import HEATMAP_CMAP, figure, save

    positives = np.flatnonzero(scored.labels > 0)
    rows = positives[np.argsort(-scored.probability[positives], kind="stable")][:top]
    fig, ax = figure(figsize=(11, 0.28 * max(len(rows), 4) + 1.6))
    if rows.size:
        matrix = scored.attention.matrix(rows)
        centre = matrix.shape[1] // 2
        image = ax.imshow(matrix, aspect="auto", cmap=HEATMAP_CMAP, interpolation="nearest",
                          extent=(-centre - 0.5, matrix.shape[1] - centre - 0.5, len(rows) - 0.5, -0.5))  # fmt: skip
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([f"{scored.names[i][:28]}  p={scored.probability[i]:.2f}" for i in rows], fontsize=7)
        fig.colorbar(image, ax=ax, label="attention (unit-norm per sequence)", pad=0.01)
        ax.grid(False)
    else:
        ax.text(0.5, 0.5, "no positives", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("position relative to the window centre (bp)")
    ax.set_title(title or f"Attention of the {len(rows)} top-scoring positives")
    save(fig, path)


def plot_profile(scored: ScoredSet, path: PathLike, *, attribution: BaseScores | None = None,
                 attribution_rows: np.ndarray | None = None, title: str = "") -> None:  # fmt: skip
    """Mean attention (± 95 % CI of the mean) by position relative to the window centre, per class.

    With ``attribution`` (rows ``attribution_rows`` of the set), a second panel shows the
    mean |integrated gradients| of those sequences, each scaled to unit norm, for comparison.
    """
    from dnabert.plots import PALETTE, figure, save

    panels = 2 if attribution is not None and len(attribution) else 1
    fig, axes = figure(1, panels, figsize=(6.5 * panels, 4), squeeze=False)
    series = [("attention", scored.attention, np.arange(len(scored)))]
    if panels == 2:
        series.append(("|integrated gradients| (unit norm)", BaseScores.from_list(
            [unit_norm(np.abs(a)) for a in attribution.to_list()]), np.asarray(attribution_rows)))  # fmt: skip
    for ax, (label, scores, rows) in zip(axes[0], series):
        labels = scored.labels[rows]
        for cls in np.unique(labels):
            members = np.flatnonzero(labels == cls)
            matrix = scores.matrix(members)
            centre = matrix.shape[1] // 2
            x = np.arange(matrix.shape[1]) - centre
            mean = np.nanmean(matrix, axis=0)
            n = np.sum(~np.isnan(matrix), axis=0)
            sem = np.nanstd(matrix, axis=0) / np.sqrt(np.maximum(n, 1))
            colour = PALETTE["positive"] if cls > 0 else PALETTE["negative"]
            name = "positives" if cls == 1 and labels.max() == 1 else ("negatives" if cls == 0 else f"class {cls}")
            ax.plot(x, mean, color=colour, label=f"{name} (n={members.size})", lw=1.4)
            ax.fill_between(x, mean - 1.96 * sem, mean + 1.96 * sem, color=colour, alpha=0.2, lw=0)
        ax.set_xlabel("position relative to the window centre (bp)")
        ax.set_ylabel(f"mean {label}")
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title or "Attention around the window centre (peak summit, TSS or splice site)")
    save(fig, path)
