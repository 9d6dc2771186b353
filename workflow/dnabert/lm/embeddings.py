"""Sequence embeddings from any layer of a k-mer BERT: ``[CLS]``, mean over k-mers, or per nucleotide.

Poolings (:data:`POOLINGS`), all from one layer's hidden states:

``cls``         the ``[CLS]`` token's vector;
``mean``        the mean over the sequence's k-mer tokens: ``[CLS]``, ``[SEP]`` and padding
                are left out (the attention mask decides what is padding);
``nucleotide``  one vector per base: each k-mer's vector spread over its k bases and
                averaged by coverage, as :mod:`dnabert.interpret.attention` spreads attention
                (a sequence of ``n`` k-mers gives ``n + k - 1`` vectors).

``layer`` indexes ``hidden_states`` as ``transformers`` returns them: ``0`` is the
embedding layer's output, ``i`` the output of encoder layer ``i``, ``-1`` the last layer.

A sequence longer than one model input (510 k-mers) is cut into consecutive
windows (:func:`dnabert.lm.inference.encode`, every k-mer in exactly one window),
each run on its own: ``mean`` then averages over all the sequence's k-mers,
``cls`` averages the windows' ``[CLS]`` vectors weighted by their k-mers, and
``nucleotide`` joins the windows' k-mer vectors before spreading them. Any model
works: a fine-tuned classifier, a pretrained masked LM, a DNABERT release (its
encoder, ``model.bert``, is run; no head).

Written by :func:`write_embeddings` as ``.npy`` (float32; ``N x hidden``, or for
``nucleotide`` all sequences' bases stacked, ``sum(lengths) x hidden``) plus an index
TSV (``index id length windows [label]``, and ``row_start row_end`` for ``nucleotide``).
:func:`plot_projection` draws a 2-D PCA of per-sequence vectors coloured by label.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.io import InputError, PathLike, atomic_path, atomic_write
from dnabert.lm.inference import Autocast, Encoded, encode

log = logging.getLogger(__name__)

POOLINGS = ("cls", "mean", "nucleotide")


@dataclass
class Embeddings:
    """Vectors of some sequences; for ``nucleotide`` pooling sequence ``i`` is ``values[offsets[i]:offsets[i+1]]``."""

    values: np.ndarray
    pooling: str
    layer: int
    windows: np.ndarray  # model inputs (windows) per sequence
    lengths: np.ndarray  # bases per sequence
    offsets: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.lengths.size)

    def sequence_vectors(self) -> np.ndarray:
        """One vector per sequence (``nucleotide``: the mean over its bases)."""
        if self.offsets is None:
            return self.values
        sums = np.add.reduceat(self.values.astype(np.float64), self.offsets[:-1], axis=0) if len(self) else self.values
        return (sums / np.diff(self.offsets)[:, None]).astype(np.float32)


def spread_kmer_vectors(vectors: np.ndarray, k: int) -> np.ndarray:
    """Per-base vectors from per-k-mer vectors (``n x d`` -> ``(n + k - 1) x d``), averaged by coverage.

    The many-dimensional twin of :func:`dnabert.interpret.attention.spread_kmer_scores`:
    base ``i`` gets the mean of the vectors of the k-mers ``max(0, i-k+1) .. min(i, n-1)``.
    """
    n = vectors.shape[0]
    if n == 0:
        return np.zeros((0, vectors.shape[1]), dtype=np.float32)
    cumulative = np.concatenate([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0, dtype=np.float64)])
    base = np.arange(n + k - 1)
    first = np.maximum(base - k + 1, 0)
    last = np.minimum(base, n - 1)
    total = cumulative[last + 1] - cumulative[first]
    return (total / (last - first + 1)[:, None]).astype(np.float32)


def _encoder(model: nn.Module) -> nn.Module:
    """The BERT encoder of a classifier or masked LM (or the model itself if it is one)."""
    return getattr(model, "bert", model)


def check_layer(model: nn.Module, layer: int) -> int:
    """``layer`` as a non-negative index into ``hidden_states`` (0 = embeddings, L = last encoder layer)."""
    n_layers = int(model.config.num_hidden_layers)
    if not -(n_layers + 1) <= layer <= n_layers:
        raise InputError(None, f"the model has {n_layers} layers: give 0 (embeddings) .. {n_layers}, or -1 for the "
                         f"last, got {layer}", field="layer")  # fmt: skip
    return layer % (n_layers + 1)


@torch.inference_mode()
def _row_states(model: nn.Module, encoded: Encoded, layer: int, batch_size: int, device: torch.device,
                autocast: Autocast, progress: bool):  # fmt: skip
    """Yield ``(row, states)`` with each row's hidden states at ``layer`` (``tokens x hidden``, no padding)."""
    encoder = _encoder(model)
    order = np.argsort(encoded.lengths, kind="stable")
    starts = range(0, order.size, batch_size)
    for start in tqdm(starts, desc="embed", unit="batch", disable=not progress, mininterval=5):
        rows = order[start : start + batch_size]
        input_ids, attention_mask = encoded.batch(rows)
        with autocast():
            out = encoder(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                          output_hidden_states=True)  # fmt: skip
        states = out.hidden_states[layer].float().cpu().numpy()
        for r, row in enumerate(rows):
            yield int(row), states[r, : encoded.lengths[row]]


def embed_sequences(
    model: nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    pooling: str = "mean",
    layer: int = -1,
    batch_size: int = 64,
    device: torch.device | None = None,
    autocast: Autocast = contextlib.nullcontext,
    progress: bool = False,
) -> Embeddings:
    """Embeddings of ``sequences`` (see the module docstring for ``pooling`` and ``layer``)."""
    if pooling not in POOLINGS:
        raise InputError(None, f"must be one of {', '.join(POOLINGS)}, got {pooling!r}", field="pooling")
    for i, sequence in enumerate(sequences):
        if len(sequence) < k:
            raise InputError(None, f"sequence {i} is {len(sequence)} bp, shorter than k = {k}", field="sequence")
    index = check_layer(model, layer)
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    encoded = encode(list(sequences), k, overflow="split")
    n, hidden = len(sequences), int(model.config.hidden_size)
    kmers = (encoded.lengths - 2).astype(np.float64)
    sums = np.zeros((n, hidden))
    weights = np.zeros(n)
    per_row: dict[int, np.ndarray] = {}
    try:
        for row, states in _row_states(model, encoded, index, batch_size, device, autocast, progress):
            seq = int(encoded.sequence_index[row])
            if pooling == "cls":
                sums[seq] += states[0] * kmers[row]
                weights[seq] += kmers[row]
            elif pooling == "mean":
                sums[seq] += states[1:-1].sum(axis=0, dtype=np.float64)
                weights[seq] += kmers[row]
            else:
                per_row[row] = states[1:-1]
    finally:
        model.train(was_training)
    windows = np.bincount(encoded.sequence_index, minlength=n)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=n)
    if pooling != "nucleotide":
        return Embeddings((sums / weights[:, None]).astype(np.float32), pooling, layer, windows, lengths)
    parts: list[list[np.ndarray]] = [[] for _ in range(n)]
    for row in range(len(encoded)):  # a sequence's rows are consecutive and in order
        parts[int(encoded.sequence_index[row])].append(per_row[row])
    spread = [spread_kmer_vectors(np.concatenate(p), k) for p in parts]
    offsets = np.concatenate(([0], np.cumsum([s.shape[0] for s in spread]))).astype(np.int64)
    values = np.concatenate(spread) if spread else np.zeros((0, hidden), np.float32)
    return Embeddings(values, pooling, layer, windows, lengths, offsets)


# --------------------------------------------------------------------------- files


def write_embeddings(embeddings: Embeddings, ids: Sequence[str], npy_out: PathLike, index_out: PathLike,
                     labels: Sequence[int] | None = None) -> None:  # fmt: skip
    """The vectors as ``.npy`` (float32, no pickle) and the index TSV, each written atomically."""
    if len(ids) != len(embeddings):
        raise ValueError(f"{len(ids)} ids for {len(embeddings)} sequences")
    with atomic_path(npy_out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(embeddings.values, dtype=np.float32), allow_pickle=False)
    columns = ["index", "id", "length", "windows"] + (["label"] if labels is not None else [])
    if embeddings.offsets is not None:
        columns += ["row_start", "row_end"]
    with atomic_write(index_out) as handle:
        handle.write("\t".join(columns) + "\n")
        for i, ident in enumerate(ids):
            cells = [str(i), ident, str(int(embeddings.lengths[i])), str(int(embeddings.windows[i]))]
            if labels is not None:
                cells.append(str(int(labels[i])))
            if embeddings.offsets is not None:
                cells += [str(int(embeddings.offsets[i])), str(int(embeddings.offsets[i + 1]))]
            handle.write("\t".join(cells) + "\n")


def read_embeddings(npy: PathLike, index: PathLike) -> tuple[np.ndarray, pd.DataFrame]:
    """The vectors (``np.load``, no pickle) and the index as a DataFrame."""
    for path in (npy, index):
        if not Path(path).is_file():
            raise InputError(path, "embedding file not found")
    return np.load(npy, allow_pickle=False), pd.read_csv(index, sep="\t", dtype={"id": str}, keep_default_na=False)


def plot_projection(vectors: np.ndarray, labels: Sequence[int], path: PathLike, *, title: str = "") -> np.ndarray:
    """A 2-D PCA (scikit-learn) of per-sequence vectors, one colour per label; returns the explained variance."""
    from sklearn.decomposition import PCA

    from dnabert.plots import PALETTE, figure, save

    labels = np.asarray(labels)
    fig, ax = figure(figsize=(6, 5))
    if vectors.shape[0] < 2:
        ax.text(0.5, 0.5, "fewer than 2 sequences", ha="center", va="center", transform=ax.transAxes)
        save(fig, path)
        return np.zeros(2)
    pca = PCA(n_components=min(2, vectors.shape[1]), random_state=0)
    xy = pca.fit_transform(vectors.astype(np.float64))
    if xy.shape[1] == 1:
        xy = np.column_stack([xy[:, 0], np.zeros(len(xy))])
    colours = {0: PALETTE["negative"], 1: PALETTE["positive"]}
    for label in np.unique(labels):
        members = labels == label
        name = {0: "negatives (0)", 1: "positives (1)"}.get(int(label), f"class {label}") if labels.max() <= 1 \
            else f"class {label}"  # fmt: skip
        ax.scatter(xy[members, 0], xy[members, 1], s=9, alpha=0.6, linewidths=0, label=f"{name}, n={members.sum()}",
                   color=colours.get(int(label)) if labels.max() <= 1 else None)  # fmt: skip
    ratio = np.pad(pca.explained_variance_ratio_, (0, 2 - pca.explained_variance_ratio_.size))
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f} % of variance)")
    ax.legend(frameon=False, fontsize=8, markerscale=2)
    ax.set_title(title or "Embeddings, first two principal components")
    save(fig, path)
    return ratio


def embed_file(
    model_dir: PathLike,
    npy_out: PathLike,
    index_out: PathLike,
    *,
    fasta: PathLike | None = None,
    dataset: PathLike | None = None,
    pooling: str = "mean",
    layer: int = -1,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    projection_out: PathLike | None = None,
    title: str = "",
    progress: bool = False,
) -> Embeddings:
    """Embed the records of a FASTA or the rows of a dataset TSV (with labels) and write the files.

    With ``projection_out``, also the PCA plot (coloured by label; FASTA records are all label 1).
    """
    from dnabert.lm.evaluation import read_split
    from dnabert.lm.inference import load_for_inference
    from dnabert.lm.predict import read_fasta_records

    if (fasta is None) == (dataset is None):
        raise ValueError("give exactly one of fasta or dataset")
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads, any_model=True)
    if fasta is not None:
        records = list(read_fasta_records(fasta))
        sequences, ids, labels = [r.sequence for r in records], [r.id for r in records], None
    else:
        split = read_split(dataset)
        sequences, ids, labels = split.sequences, split.ids, split.labels.tolist()
    embeddings = embed_sequences(model, sequences, k, pooling=pooling, layer=layer, batch_size=batch_size,
                                 device=torch_device, autocast=autocast, progress=progress)  # fmt: skip
    write_embeddings(embeddings, ids, npy_out, index_out, labels)
    log.info("embedded %d sequences (%s pooling, hidden_states[%d]) with %s: %s", len(ids), pooling, layer,
             model_dir, "x".join(map(str, embeddings.values.shape)))  # fmt: skip
    if projection_out is not None:
        variance = plot_projection(embeddings.sequence_vectors(), labels if labels is not None else [1] * len(ids),
                                   projection_out, title=title)  # fmt: skip
        log.info("PCA: PC1 %.1f %%, PC2 %.1f %% of the variance", 100 * variance[0], 100 * variance[1])
    return embeddings
