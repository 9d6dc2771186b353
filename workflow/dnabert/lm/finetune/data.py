"""A task's data for fine-tuning: the tokenised splits, and the training batches in their seeded order.

Each epoch is a seeded permutation of the training rows cut into pools of
``POOL_BATCHES`` batches; a pool is sorted by length and cut into batches, and the batch
order is shuffled (length bucketing); each batch is padded only to its longest row
(dynamic padding, rounded up to a multiple of 8). With both strands, an epoch holds every
training sequence and its reverse complement (``strand_training: double``) or one strand
of each, drawn per sequence and epoch (``sample``: random reverse-complement augmentation
at the cost of one strand). Batch ``i`` of epoch ``e`` is a pure function of ``(seed, e)``,
so a run resumed at optimizer step ``s`` continues with exactly the batches an
uninterrupted run would use (:func:`training_batches`). The batches are built ``PREFETCH`` ahead of the step in a background thread, and pinned on CUDA
(:func:`prefetched_batches`, :mod:`dnabert.lm.loading`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from dnabert.io import PathLike
from dnabert.lm import kmer
from dnabert.lm.evaluation import Split, read_task
from dnabert.lm.inference import Encoded, encode
from dnabert.lm.loading import Prefetcher
from dnabert.sequence import reverse_complement

log = logging.getLogger("dnabert.lm.finetune")

POOL_BATCHES = 50  # batches per length-sorting pool
PREFETCH = 2  # training batches prepared ahead of the step (0: in the step)


@dataclass
class TaskData:
    """A task's splits, their token rows (:func:`dnabert.lm.inference.encode`) and each training row's label.

    With both strands, ``encoded["train"]`` holds every training sequence and then its
    reverse complement (same label), and ``reverse`` the reverse-complement rows of dev
    and test, whose predictions are averaged with the forward ones. ``sample_strand``: an
    epoch trains on one strand of each sequence (:meth:`epoch_rows`), not on both.
    """

    splits: dict[str, Split]
    encoded: dict[str, Encoded]
    n_classes: int
    train_labels: np.ndarray
    reverse: dict[str, Encoded] | None = None
    sample_strand: bool = False

    @property
    def rows_per_epoch(self) -> int:
        """Training rows (windows) in one epoch: half of them when one strand is sampled."""
        rows = len(self.encoded["train"])
        return rows // 2 if self.sample_strand else rows

    def epoch_rows(self, seed: int, epoch: int) -> np.ndarray | None:
        """The training rows of one epoch (None: all), a pure function of (seed, epoch).

        With ``sample_strand`` each sequence contributes its forward or its reverse-complement
        windows, drawn at random per sequence.
        """
        if not self.sample_strand:
            return None
        sequence = self.encoded["train"].sequence_index
        n = self.splits["train"].labels.size
        reverse = np.random.default_rng([seed, epoch, 1]).integers(0, 2, size=n).astype(bool)
        return np.flatnonzero((sequence >= n) == reverse[sequence % n])


def load_data(
    data: Mapping[str, PathLike], k: int, overflow: str, both_strands: bool = False, strand_training: str = "sample"
) -> TaskData:
    """Read the train/dev/test TSVs and tokenise them (long sequences split into windows, or truncated).

    ``strand_training`` (with ``both_strands``): ``double`` trains each epoch on both strands,
    ``sample`` on one strand of each sequence drawn per epoch.
    """
    splits, n_classes = read_task(data)
    encoded = {name: encode(split.sequences, k, overflow) for name, split in splits.items()}
    reverse = None
    if both_strands:
        reverse = {name: encode([reverse_complement(s) for s in splits[name].sequences], k, overflow)
                   for name in ("dev", "test")}  # fmt: skip
        train = list(splits["train"].sequences)
        encoded["train"] = encode(train + [reverse_complement(s) for s in train], k, overflow)
    for name, enc in encoded.items():
        if len(enc) > enc.n_sequences:
            log.info("%s: %d sequences longer than %d k-mers were split into %d windows", name,
                     int((np.bincount(enc.sequence_index) > 1).sum()), kmer.MAX_KMERS, len(enc))  # fmt: skip
    labels = splits["train"].labels
    train_labels = np.concatenate([labels, labels] if both_strands else [labels])[encoded["train"].sequence_index]
    return TaskData(splits, encoded, n_classes, train_labels, reverse, both_strands and strand_training == "sample")


def epoch_batches(
    lengths: np.ndarray, batch_size: int, seed: int, epoch: int, rows: np.ndarray | None = None
) -> list[np.ndarray]:
    """Length-bucketed batches of one epoch over ``rows`` (None: every row): a pure function of (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(lengths.size) if rows is None else rows[rng.permutation(rows.size)]
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


@dataclass
class Batch:
    """One training batch on the CPU: its rows, padded token ids, attention mask and labels."""

    rows: np.ndarray
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.rows.size)

    def pin_memory(self) -> Batch:
        return Batch(self.rows, self.input_ids.pin_memory(), self.attention_mask.pin_memory(), self.labels.pin_memory())


def make_batch(data: TaskData, rows: np.ndarray) -> Batch:
    """The tensors of some training rows (dynamic padding)."""
    input_ids, attention_mask = data.encoded["train"].batch(rows)
    return Batch(rows, input_ids, attention_mask, torch.from_numpy(data.train_labels[rows]))


def training_batches(data: TaskData, batch_size: int, seed: int, start_step: int = 0) -> Iterator[Batch]:
    """The training batches from optimizer step ``start_step`` on, epoch after epoch (endless: the loop stops)."""
    lengths = data.encoded["train"].lengths
    epoch, offset = divmod(start_step, steps_per_epoch(data.rows_per_epoch, batch_size))
    while True:
        for rows in epoch_batches(lengths, batch_size, seed, epoch, data.epoch_rows(seed, epoch))[offset:]:
            yield make_batch(data, rows)
        epoch, offset = epoch + 1, 0


def prefetched_batches(
    data: TaskData, batch_size: int, seed: int, start_step: int, device: torch.device
) -> Prefetcher[Batch, Batch]:
    """:func:`training_batches`, built ``PREFETCH`` ahead in a background thread (pinned for CUDA)."""
    return Prefetcher(training_batches(data, batch_size, seed, start_step), lambda batch: batch, PREFETCH, device,
                      name="finetune-batches")  # fmt: skip
