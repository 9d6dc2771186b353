"""DNABERT's span masking for k-mer masked language modelling.

With overlapping k-mers, one masked k-mer is trivially recovered from its
neighbours, which share ``k - 1`` of its bases. DNABERT (Ji et al. 2021,
``run_pretrain.py``) therefore masks contiguous spans of ``k`` k-mers: mask
*centres* are drawn independently with probability ``p`` over the real k-mer
tokens, and each centre ``c`` masks the tokens ``c + o`` for ``o`` in
:func:`span_offsets` (k = 6: ``-2 .. +3``; k = 3: ``-1 .. +1``). A span is clipped
to the run of real k-mer tokens that holds its centre, so ``[CLS]``, ``[SEP]``,
``[UNK]``, ``[MASK]`` and ``[PAD]`` are never masked and a span never jumps
over one of them.

The configured ``rate`` is the masked *fraction* of real tokens (DNABERT: 15 %,
then 20 % for the last part of training). Spans of ``k`` independent centres
cover a token with probability ``1 - (1 - p)^k``, so the centre probability is
``p = 1 - (1 - rate)^(1/k)`` (:func:`centre_probability`; 15 % at k = 6 gives
p = 0.0267, close to DNABERT's 0.025). Tokens within ``k/2`` of a sequence end
have fewer possible centres, so the realised fraction of a 510-k-mer piece is a
fraction of a percent below ``rate``.

Masked positions get labels (their original ids); every other position gets
``-100``. Of the masked positions 80 % become ``[MASK]``, 10 % a uniformly random
k-mer id (never a special token) and 10 % are left unchanged.

Everything is whole-tensor torch code (k shifted comparisons, no Python loop over
tokens) driven by an explicit ``torch.Generator``, so a batch's masking is a pure
function of its seed: training can resume or be split across processes and mask
exactly the same positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dnabert.lm import kmer

IGNORE_INDEX = -100
MASK_FRACTION = 0.8  # of masked positions: replaced by [MASK]
RANDOM_FRACTION = 0.1  # of masked positions: replaced by a random k-mer (the rest stay unchanged)


def span_offsets(k: int) -> range:
    """Offsets from a mask centre covered by its span: ``k`` contiguous positions.

    DNABERT's ``MASK_LIST``: k=3 ``-1..1``, k=4 ``-1..2``, k=5 ``-2..2``, k=6 ``-2..3``.
    """
    k = kmer.check_k(k)
    return range(-((k - 1) // 2), k // 2 + 1)


def centre_probability(rate: float, k: int) -> float:
    """Centre probability ``p`` that masks a fraction ``rate`` of tokens with spans of ``k``."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"mask rate must be in [0, 1), got {rate!r}")
    return 1.0 - (1.0 - rate) ** (1.0 / kmer.check_k(k))


@dataclass(frozen=True)
class MaskedBatch:
    """Model input after masking and the MLM targets.

    ``input_ids`` (B, L) with replacements applied; ``labels`` (B, L): original id
    at masked positions, ``-100`` elsewhere; ``masked`` (B, L) bool.
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    masked: torch.Tensor


def maskable_positions(input_ids: torch.Tensor) -> torch.Tensor:
    """Real k-mer tokens: every id that is not one of the special tokens (nor padding)."""
    return input_ids >= kmer.N_SPECIAL


def span_mask(maskable: torch.Tensor, centres: torch.Tensor, k: int) -> torch.Tensor:
    """Positions covered by the spans of ``centres``, clipped to each centre's run of maskable tokens.

    ``maskable`` and ``centres`` are (B, L) bool; centres outside ``maskable`` are ignored.
    """
    if maskable.shape != centres.shape or maskable.dim() != 2:
        raise ValueError(f"maskable {tuple(maskable.shape)} and centres {tuple(centres.shape)} must be equal (B, L)")
    centres = centres & maskable
    # Run id: changes at every non-maskable token, so equal ids mean "same contiguous run".
    run = torch.cumsum(~maskable, dim=1, dtype=torch.int32)
    length = maskable.shape[1]
    masked = torch.zeros_like(maskable)
    for offset in span_offsets(k):
        if abs(offset) >= length:
            continue
        if offset >= 0:  # position j = c + offset
            masked[:, offset:] |= centres[:, : length - offset] & (run[:, offset:] == run[:, : length - offset])
        else:
            masked[:, :offset] |= centres[:, -offset:] & (run[:, :offset] == run[:, -offset:])
    return masked & maskable


def mask_tokens(
    input_ids: torch.Tensor,
    k: int,
    rate: float,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
) -> MaskedBatch:
    """DNABERT span masking of a (B, L) batch of token ids (a new tensor; the input is not changed).

    ``vocab_size`` defaults to ``kmer.vocab_size(k)``; random replacements are drawn
    from the k-mer ids ``[N_SPECIAL, vocab_size)``.
    """
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be (batch, length), got shape {tuple(input_ids.shape)}")
    vocab_size = kmer.vocab_size(k) if vocab_size is None else vocab_size
    device = input_ids.device
    maskable = maskable_positions(input_ids)
    draw = torch.rand(input_ids.shape, generator=generator, device=device)
    centres = draw < centre_probability(rate, k)
    masked = span_mask(maskable, centres, k)
    choice = torch.rand(input_ids.shape, generator=generator, device=device)
    random_ids = torch.randint(kmer.N_SPECIAL, vocab_size, input_ids.shape, generator=generator, device=device)
    out = input_ids.clone()
    to_mask = masked & (choice < MASK_FRACTION)
    to_random = masked & (choice >= MASK_FRACTION) & (choice < MASK_FRACTION + RANDOM_FRACTION)
    out[to_mask] = kmer.MASK_ID
    out[to_random] = random_ids[to_random].to(out.dtype)
    labels = torch.where(masked, input_ids.long(), torch.full_like(input_ids, IGNORE_INDEX, dtype=torch.long))
    return MaskedBatch(out, labels, masked)


def seeded_generator(*key: int) -> torch.Generator:
    """A CPU generator seeded from integers (e.g. seed, batch position): independent streams per key."""
    state = np.random.SeedSequence([int(part) for part in key]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))
