"""Per-nucleotide attention as DNABERT computes it, the scores container and the attention plots.

Attention (Ji et al. 2021, ``run_finetune.py --visualize``): in one layer (default the
last), the attention from ``[CLS]`` to each k-mer token, summed over heads (or some
heads); ``[CLS]``, ``[SEP]`` and padding are left out. Each k-mer's score is added to
its k bases and each base's total divided by the number of k-mers covering it; the
per-base vector is then scaled to unit L2 norm. Weights come from the eager attention
kernel (SDPA returns none), captured by a forward hook on the chosen layer only, so
memory stays at one ``[CLS]`` row per head. Sequences longer than one model input are
split into consecutive windows of k-mers, and the windows' k-mer scores are joined.

:func:`head_attention` gives the same [CLS] rows for every layer and head at once
(hooks on every layer), from which :mod:`dnabert.interpret.heads` chooses the layer and
heads on the dev split. Integrated gradients are in :mod:`dnabert.interpret.attribution`;
the per-base containers and the scores file are in :mod:`dnabert.interpret.scores`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from dnabert.interpret.scores import BaseScores, ScoredSet, spread_kmer_scores, unit_norm
from dnabert.io import InputError, PathLike
from dnabert.lm.inference import Encoded, encode

log = logging.getLogger(__name__)

#: ``(input_ids, attention_mask, rows) -> (rows, tokens, ...)``: scores of a batch of encoded rows.
ScoreFn = Callable[[torch.Tensor, torch.Tensor, np.ndarray], torch.Tensor]


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


def score_kmers(
    model: torch.nn.Module,
    encoded: Encoded,
    score_fn: ScoreFn,
    batch_size: int,
    device: torch.device,
    progress: bool,
    desc: str,
) -> list[np.ndarray]:
    """Run ``score_fn(input_ids, attention_mask, rows) -> (rows, tokens, ...)`` over length-sorted batches.

    Returns per-sequence k-mer scores (token positions 1 .. length-2 of each row; any
    trailing dimensions of ``score_fn``'s output kept).
    """
    order = np.argsort(encoded.lengths, kind="stable")
    lengths = encoded.lengths
    row_scores: dict[int, np.ndarray] = {}
    starts = range(0, order.size, batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = encoded.batch(rows)
        token_scores = score_fn(input_ids.to(device), attention_mask.to(device), rows).float().cpu().numpy()
        for r, row in enumerate(rows):
            row_scores[int(row)] = token_scores[r, 1 : lengths[row] - 1].astype(np.float64)
    return _kmer_rows(encoded, row_scores)


def check_sequences(sequences: Sequence[str], k: int) -> None:
    """Every sequence has at least one k-mer."""
    for i, seq in enumerate(sequences):
        if len(seq) < k:
            raise InputError(None, f"sequence {i} is {len(seq)} bp, shorter than k={k}", field="sequence")


# --------------------------------------------------------------------------- attention


def _cls_rows(
    model: torch.nn.Module,
    sequences: Sequence[str],
    k: int,
    layers: Sequence[int],
    batch_size: int,
    device: torch.device | None,
    autocast: Callable[[], contextlib.AbstractContextManager],
    progress: bool,
) -> list[np.ndarray]:
    """Per sequence, the [CLS] attention rows of some layers to its k-mers: ``(n_kmers, len(layers), heads)``.

    Eager kernel for this call only, one forward hook per chosen layer.
    """
    check_sequences(sequences, k)
    device = device or next(model.parameters()).device
    modules = [_attention_module(model, layer) for layer in layers]
    captured: dict[int, torch.Tensor] = {}

    def keeper(position: int):
        def keep_cls_row(_module, _inputs, outputs):
            weights = outputs[1]
            if weights is None:
                raise RuntimeError("attention weights not returned: the model is not using eager attention")
            captured[position] = weights[:, :, 0, :].float()  # (batch, heads, tokens)

        return keep_cls_row

    @torch.inference_mode()
    def score(input_ids: torch.Tensor, attention_mask: torch.Tensor, _rows: np.ndarray) -> torch.Tensor:
        captured.clear()
        with autocast():
            model(input_ids=input_ids, attention_mask=attention_mask)
        return torch.stack([captured[i] for i in range(len(modules))], dim=1).permute(0, 3, 1, 2)

    previous = model.config._attn_implementation
    was_training = model.training
    use_eager_attention(model).eval()
    handles = [module.register_forward_hook(keeper(i)) for i, module in enumerate(modules)]
    try:
        encoded = encode(list(sequences), k, overflow="split")
        return score_kmers(model, encoded, score, batch_size, device, progress, "attention")
    finally:
        for handle in handles:
            handle.remove()
        if previous != "eager" and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)
        model.train(was_training)


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
    n_heads = model.config.num_attention_heads
    head_index = list(range(n_heads)) if heads is None else list(heads)
    if not head_index or any(not 0 <= h < n_heads for h in head_index):
        raise ValueError(f"heads must be indices in 0..{n_heads - 1}, got {heads}")
    rows = _cls_rows(model, sequences, k, [layer], batch_size, device, autocast, progress)
    return BaseScores.from_list([unit_norm(spread_kmer_scores(r[:, 0, head_index].sum(axis=1), k)) for r in rows])


def head_attention(
    model: torch.nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    progress: bool = False,
) -> list[np.ndarray]:
    """The [CLS] attention of every layer and head to every k-mer: one ``(n_kmers, layers, heads)`` array per sequence."""
    layers = list(range(model.config.num_hidden_layers))
    return _cls_rows(model, sequences, k, layers, batch_size, device, autocast, progress)


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
