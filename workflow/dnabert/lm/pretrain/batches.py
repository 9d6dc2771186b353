"""Micro-batches: length-grouped epochs, gathering and masking, the held-out batches, the data of a run.

Micro-batch ``i`` of a run is a pure function of ``(seed, i)`` (:class:`BatchPlan`). It is
masked in its padded (rows, width) form, so a packed micro-batch (``packed=True``: the
real tokens as one stream, :mod:`dnabert.lm.packing`) carries exactly the masks and
targets of the padded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from dnabert.io import InputError, PathLike
from dnabert.lm.corpus import MANIFEST
from dnabert.lm.masking import mask_tokens
from dnabert.lm.packing import PackedLayout, pack_rows
from dnabert.lm.pretrain.pieces import PAD_MULTIPLE, PieceStore, split_pieces
from dnabert.lm.pretrain.settings import PretrainSettings

POOL_BATCHES = 64  # micro-batches per length-sorting pool


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
    """One masked micro-batch, ready for the model (CPU tensors until :meth:`to`).

    Padded: ``input_ids`` (rows, width) and ``attention_mask`` (None without padding).
    Packed: ``input_ids`` (T,) of the real tokens, ``layout`` where each piece sits, no mask.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor | None
    positions: torch.Tensor  # flat indices of the masked tokens (row * width + col, or into the packed stream)
    targets: torch.Tensor  # their original ids
    real_tokens: int
    padded_tokens: int  # tokens the model computes on (= real_tokens when packed)
    layout: PackedLayout | None = None

    @property
    def masked(self) -> int:
        return int(self.targets.numel())

    def pin_memory(self) -> MicroBatch:
        """The same batch in page-locked memory (so the copy to a GPU can overlap compute)."""
        pin = lambda t: None if t is None else t.pin_memory()  # noqa: E731
        return replace(self, input_ids=pin(self.input_ids), attention_mask=pin(self.attention_mask),
                       positions=pin(self.positions), targets=pin(self.targets),
                       layout=None if self.layout is None else self.layout.pin_memory())  # fmt: skip

    def to(self, device: torch.device) -> MicroBatch:
        """On ``device``: non-blocking copies (from pinned memory when :meth:`pin_memory` was applied)."""
        if device.type == "cpu":
            return self
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return replace(self, input_ids=move(self.input_ids), attention_mask=move(self.attention_mask),
                       positions=move(self.positions), targets=move(self.targets),
                       layout=None if self.layout is None else self.layout.to(device, non_blocking=True))  # fmt: skip


def make_micro_batch(
    store: PieceStore, pieces: np.ndarray, k: int, rate: float, generator: torch.Generator, packed: bool = False
) -> MicroBatch:
    """Gather, pad and span-mask one micro-batch; ``packed``: then keep only the real tokens, as one stream."""
    ids, lengths = store.gather(pieces)
    input_ids = torch.from_numpy(ids)
    batch = mask_tokens(input_ids, k, rate, generator)
    positions = torch.nonzero(batch.masked.reshape(-1), as_tuple=False).squeeze(1)
    targets = input_ids.reshape(-1)[positions]
    real = int(lengths.sum())
    if packed:
        stream, index, layout = pack_rows(batch.input_ids, lengths)
        where = torch.full((ids.size,), -1, dtype=torch.int64)
        where[index] = torch.arange(index.numel())
        return MicroBatch(stream, None, where[positions], targets, real, real, layout)
    attention = None
    if real != ids.size:
        attention = torch.from_numpy((np.arange(ids.shape[1])[None, :] < lengths[:, None]).astype(np.int64))
    return MicroBatch(batch.input_ids, attention, positions, targets, real, int(ids.size))


def eval_batches(store: PieceStore, pieces: np.ndarray, batch_tokens: int) -> list[np.ndarray]:
    """Length-sorted evaluation micro-batches (deterministic, no shuffling)."""
    lengths = store.lengths[pieces]
    order = np.argsort(-lengths, kind="stable")
    return cut_batches(pieces[order], lengths[order], np.full(pieces.size, pieces.size), batch_tokens)


@dataclass(frozen=True)
class TrainingData:
    """The corpus as a run uses it: the pieces, the training and held-out ids, and the held-out batches."""

    store: PieceStore
    train_ids: np.ndarray
    eval_ids: np.ndarray
    eval_source: str  # how the held-out pieces were chosen, in words
    held_out: list[np.ndarray]  # evaluation micro-batches
    dev_chromosomes: Sequence[str]


def load_training_data(corpus: PathLike, settings: PretrainSettings, dev_chromosomes: Sequence[str]) -> TrainingData:
    """Open the corpus (its k must be ``settings.k``), hold out the dev chromosomes and batch them."""
    store = PieceStore(corpus)
    if store.k != settings.k:
        raise InputError(Path(corpus) / MANIFEST, f"corpus holds {store.k}-mers but kmer is {settings.k}", field="k")
    train_ids, eval_ids, eval_source = split_pieces(store, dev_chromosomes, settings.eval_pieces, settings.seed)
    held_out = eval_batches(store, eval_ids, settings.batch_tokens)
    return TrainingData(store, train_ids, eval_ids, eval_source, held_out, dev_chromosomes)
