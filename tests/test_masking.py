"""DNABERT span masking: contiguous k-token spans, never on specials or padding, rate and 80/10/10 split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dnabert.lm import kmer
from dnabert.lm.masking import (
    IGNORE_INDEX,
    centre_probability,
    mask_tokens,
    seeded_generator,
    span_mask,
    span_offsets,
)

K = 6
VOCAB = kmer.vocab_size(K)


def _batch(rows: int = 256, width: int = 512, seed: int = 0) -> torch.Tensor:
    """Rows of [CLS] k-mers [SEP] [PAD]...: half full length, half random shorter; an [UNK] here and there."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((rows, width), dtype=np.int64)
    lengths = np.where(np.arange(rows) % 2 == 0, width, rng.integers(7, width, size=rows))
    lengths[3 % rows] = width
    for row, length in enumerate(lengths):
        ids[row, 0] = kmer.CLS_ID
        ids[row, 1 : length - 1] = rng.integers(kmer.N_SPECIAL, VOCAB, size=length - 2)
        ids[row, length - 1] = kmer.SEP_ID
    if rows > 3:
        ids[3, 100] = kmer.UNK_ID
    return torch.from_numpy(ids)


def _runs(mask_row: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask_row.astype(np.int8), [0]))))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def test_span_offsets_match_dnabert_mask_list():
    # DNABERT run_pretrain.py MASK_LIST (plus the centre itself)
    assert list(span_offsets(3)) == [-1, 0, 1]
    assert list(span_offsets(4)) == [-1, 0, 1, 2]
    assert list(span_offsets(5)) == [-2, -1, 0, 1, 2]
    assert list(span_offsets(6)) == [-2, -1, 0, 1, 2, 3]


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_isolated_spans_are_contiguous_and_k_long(k):
    """One centre per row away from the ends gives exactly k masked positions, c-(k-1)//2 .. c+k//2."""
    ids = _batch(rows=64, seed=k)
    maskable = ids >= kmer.N_SPECIAL
    centres = torch.zeros_like(maskable)
    rng = np.random.default_rng(k)
    lengths = (ids != kmer.PAD_ID).sum(1).numpy()
    chosen = []
    for row in range(ids.shape[0]):
        if row == 3 or lengths[row] < 2 * k + 4:
            continue  # the row with [UNK], or too short for a span clear of both ends
        c = int(rng.integers(1 + k, lengths[row] - 1 - k))
        centres[row, c] = True
        chosen.append((row, c))
    masked = span_mask(maskable, centres, k).numpy()
    for row, c in chosen:
        runs = _runs(masked[row])
        assert runs == [(c - (k - 1) // 2, c - (k - 1) // 2 + k)], (row, c, runs)


def test_spans_are_clipped_at_specials_and_never_cross_them():
    ids = _batch(rows=4)
    maskable = ids >= kmer.N_SPECIAL
    centres = torch.zeros_like(maskable)
    centres[0, 1] = True  # first k-mer: the span would reach [CLS]
    length1 = int((ids[1] != kmer.PAD_ID).sum())
    centres[1, length1 - 2] = True  # last k-mer: the span would reach [SEP] and padding
    centres[3, 101] = True  # right after the [UNK] at 100: must not jump over it
    centres[3, 98] = True  # right before it
    masked = span_mask(maskable, centres, K).numpy()
    assert _runs(masked[0]) == [(1, 5)]
    assert _runs(masked[1]) == [(length1 - 4, length1 - 1)]
    assert _runs(masked[3]) == [(96, 100), (101, 105)]
    assert not masked[~maskable.numpy()].any()


def test_never_masks_specials_or_padding_and_labels_only_masked():
    ids = _batch()
    out = mask_tokens(ids, K, 0.2, seeded_generator(1))
    special = (ids < kmer.N_SPECIAL).numpy()
    masked = out.masked.numpy()
    assert not (masked & special).any()
    assert torch.equal(out.input_ids[ids < kmer.N_SPECIAL], ids[ids < kmer.N_SPECIAL])  # specials, padding unchanged
    labels = out.labels.numpy()
    assert (labels[~masked] == IGNORE_INDEX).all()
    assert (labels[masked] == ids.numpy()[masked]).all()
    assert torch.equal(out.input_ids[~out.masked], ids[~out.masked])  # only masked positions change


@pytest.mark.parametrize("k,rate", [(6, 0.15), (6, 0.20), (3, 0.15), (5, 0.15)])
def test_masked_fraction_is_the_rate(k, rate):
    """Over full-length rows the masked fraction is within 0.01 of the rate (edges cost < 0.3 %)."""
    ids = _batch(rows=256, seed=11)
    full = ids[0::2]  # full-length rows
    out = mask_tokens(full, k, rate, seeded_generator(k, int(rate * 100)))
    fraction = out.masked.sum().item() / (full >= kmer.N_SPECIAL).sum().item()
    assert abs(fraction - rate) < 0.01, fraction
    assert centre_probability(0.15, 6) == pytest.approx(1 - 0.85 ** (1 / 6))


def test_replacement_proportions_80_10_10():
    ids = _batch(rows=256, seed=5)
    out = mask_tokens(ids, K, 0.15, seeded_generator(9))
    masked = out.masked
    n = masked.sum().item()
    replaced = out.input_ids[masked]
    original = ids[masked]
    as_mask = (replaced == kmer.MASK_ID).float().mean().item()
    changed = (replaced != kmer.MASK_ID) & (replaced != original)
    unchanged = (replaced == original).float().mean().item()
    assert n > 10_000
    assert abs(as_mask - 0.8) < 0.015
    assert abs(changed.float().mean().item() - 0.1) < 0.01
    assert abs(unchanged - 0.1) < 0.01
    assert (replaced[changed] >= kmer.N_SPECIAL).all() and (replaced[changed] < VOCAB).all()


def test_masking_is_a_function_of_the_seed():
    ids = _batch(rows=8)
    a = mask_tokens(ids, K, 0.15, seeded_generator(42, 7))
    b = mask_tokens(ids, K, 0.15, seeded_generator(42, 7))
    c = mask_tokens(ids, K, 0.15, seeded_generator(42, 8))
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.masked, c.masked)


def test_bad_rate_is_rejected():
    with pytest.raises(ValueError, match="mask rate"):
        mask_tokens(_batch(rows=2), K, 1.5)
