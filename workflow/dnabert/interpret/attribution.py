"""Integrated gradients of a k-mer BERT (captum), spread from k-mers to bases, with hypothetical contributions.

**Integrated gradients** (Sundararajan et al. 2017) with captum's
``LayerIntegratedGradients`` on the word-embedding layer: the gradient of the target
class's log-odds (``logit_t - logsumexp`` of the other logits; for two classes
``logit_1 - logit_0``, what the prediction depends on; one logit alone can fall on a
motif that raises the other more) with respect to the k-mer embeddings, averaged along the straight path from
a baseline ([PAD] embeddings at every k-mer position; [CLS]/[SEP] kept) to the input
(``riemann_middle``: midpoint rule over ``steps``), times (input - baseline), summed
over the hidden dimension: one value per k-mer. Its sum over k-mers is the logit
difference between input and baseline (completeness). Each k-mer's value is spread
over its k bases as DNABERT spreads attention (added to each base, divided by the
number of k-mers covering it).

**Hypothetical contributions** (what TF-MoDISco needs: for every position, the
contribution each of the four bases *would* have there). A k-mer model has no
one-hot input, so they come from the one-hot projection of the path-averaged
embedding gradients ``g_j`` of token ``j``: putting base ``b`` at position ``i``
changes every k-mer covering ``i`` into another k-mer; its contribution is
``g_j . (E[k-mer j with b at i] - E[PAD])``, and ``hyp[i, b]`` is the mean of that
over the k-mers covering ``i``. At the observed base this is exactly the per-base
integrated gradient above (``hyp[i, x_i] = ig[i]``), so ``one_hot * hyp`` is the
actual contribution track. The approximation: ``g_j`` is the gradient averaged on the
observed sequence's path, held fixed for the substituted k-mer (a first-order,
linearised in-silico mutagenesis through the embedding layer; exact for a model
linear in its embeddings). K-mers with a non-ACGT base ([UNK]) contribute nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dnabert.interpret.attention import check_sequences, score_kmers
from dnabert.interpret.scores import BaseScores, spread_kmer_scores
from dnabert.lm.inference import encode
from dnabert.lm.kmer import N_SPECIAL, PAD_ID, UNK_ID

log = logging.getLogger(__name__)

#: Column order of DNABERT's base codes (A=0 T=1 C=2 G=3) -> ACGT (one-hot and MEME order).
_TO_ACGT = np.array([0, 2, 3, 1])


@dataclass
class Attributions:
    """Per-base integrated gradients of some sequences and their ``(length, 4)`` hypothetical contributions (ACGT)."""

    scores: BaseScores
    hypothetical: list[np.ndarray]


def log_odds(logits: torch.Tensor, target: int, others: Sequence[int]) -> torch.Tensor:
    """The log-odds of class ``target`` against the others: ``logit_t - logsumexp(other logits)`` (binary: l1 - l0)."""
    return logits[:, target] - torch.logsumexp(logits[:, list(others)], dim=1)


def substitution_ids(input_ids: torch.Tensor, k: int) -> torch.Tensor:
    """For each token, the ids of the k-mers with base ``t`` replaced by base ``b``: ``(..., k, 4)`` (DNABERT codes).

    Special tokens and [UNK] give [UNK] everywhere.
    """
    index = input_ids.long() - N_SPECIAL
    valid = (input_ids >= N_SPECIAL)[..., None, None]
    weights = 4 ** torch.arange(k - 1, -1, -1, device=input_ids.device)  # base t's place value
    codes = (index.clamp(min=0)[..., None] // weights) % 4  # (..., k)
    base = torch.arange(4, device=input_ids.device)
    ids = index.clamp(min=0)[..., None, None] + (base[None, :] - codes[..., None]) * weights[:, None]
    return torch.where(valid, ids + N_SPECIAL, torch.full_like(ids, UNK_ID))


def _spread_hypothetical(kmer_contribs: np.ndarray, k: int) -> np.ndarray:
    """``(n_kmers, k, 4)`` substitution contributions -> ``(n_kmers + k - 1, 4)`` per base, averaged by coverage."""
    n = kmer_contribs.shape[0]
    out = np.zeros((n + k - 1, 4))
    for t in range(k):
        out[t : t + n] += kmer_contribs[:, t, :]
    coverage = np.convolve(np.ones(n), np.ones(k))
    return (out / coverage[:, None])[:, _TO_ACGT]


#: Baselines integrated gradients can start from.
BASELINES = ("shuffle", "pad")


def baseline_sequences(sequences: Sequence[str], n: int, seed: int = 0) -> list[list[str]]:
    """``n`` dinucleotide shuffles of every sequence (seeded): ``out[r][i]`` is shuffle ``r`` of sequence ``i``."""
    from dnabert.data.negatives import dinucleotide_shuffle

    rng = np.random.default_rng(seed)
    out: list[list[str]] = [[""] * len(sequences) for _ in range(n)]
    by_length: dict[int, list[int]] = {}
    for i, seq in enumerate(sequences):
        by_length.setdefault(len(seq), []).append(i)
    for length, members in sorted(by_length.items()):
        codes = np.frombuffer("".join(sequences[i] for i in members).encode("ascii"), np.uint8).reshape(-1, length)
        for r in range(n):
            for i, row in zip(members, dinucleotide_shuffle(codes, rng)):
                out[r][i] = row.tobytes().decode("ascii")
    return out


def integrated_gradients(
    model: torch.nn.Module,
    sequences: Sequence[str],
    k: int,
    *,
    target: int = 1,
    steps: int = 32,
    baseline: str = "pad",
    baselines: int = 1,
    seed: int = 0,
    batch_size: int = 32,
    device: torch.device | None = None,
    progress: bool = False,
    hypothetical: bool = False,
) -> BaseScores | Attributions:
    """Per-base integrated gradients of the ``target`` class's log-odds (captum; see the module docstring).

    ``baseline``: ``pad`` ([PAD] at every k-mer) or ``shuffle`` (``baselines``
    dinucleotide shuffles of the sequence, seeded; attributions averaged over them).
    With ``hypothetical``, returns :class:`Attributions` (the scores and each
    sequence's ``(length, 4)`` hypothetical contributions, ACGT columns).
    """
    from captum.attr import LayerIntegratedGradients

    check_sequences(sequences, k)
    if steps < 1 or baselines < 1:
        raise ValueError(f"steps and baselines must be at least 1, got {steps} and {baselines}")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
    if not 0 <= target < model.config.num_labels:
        raise ValueError(f"target class {target} out of range for {model.config.num_labels} classes")
    device = device or next(model.parameters()).device
    embedding = model.get_input_embeddings()
    others = [c for c in range(model.config.num_labels) if c != target]

    def logit(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return log_odds(model(input_ids=input_ids, attention_mask=attention_mask).logits, target, others)

    lig = LayerIntegratedGradients(logit, embedding, multiply_by_inputs=False)
    sequences = [s.upper() for s in sequences]
    references = [encode(shuffled, k, overflow="split") for shuffled in baseline_sequences(sequences, baselines, seed)
                  ] if baseline == "shuffle" else []  # fmt: skip

    def reference_ids(input_ids: torch.Tensor, attention_mask: torch.Tensor, rows: np.ndarray) -> list[torch.Tensor]:
        kmer_positions = (input_ids >= N_SPECIAL) & (attention_mask > 0)  # [UNK] kept as in the input
        if baseline == "pad":
            return [torch.where(kmer_positions, torch.full_like(input_ids, PAD_ID), input_ids)]
        out = []
        for reference in references:
            ids, _ = reference.batch(rows)
            ids = ids.to(input_ids.device)[:, : input_ids.shape[1]]
            out.append(torch.where(kmer_positions & (ids >= N_SPECIAL), ids, input_ids))
        return out

    def score(input_ids: torch.Tensor, attention_mask: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        total = None
        for baseline_ids in reference_ids(input_ids, attention_mask, rows):
            grads = lig.attribute(input_ids, baselines=baseline_ids, additional_forward_args=(attention_mask,),
                                  n_steps=steps, method="riemann_middle",
                                  internal_batch_size=input_ids.shape[0] * steps)  # fmt: skip
            with torch.no_grad():
                ig = (grads * (embedding(input_ids) - embedding(baseline_ids))).sum(-1)
                if hypothetical:
                    subs = substitution_ids(input_ids, k)  # (B, T, k, 4)
                    reference = (grads * embedding(baseline_ids)).sum(-1)
                    hyp = torch.einsum("btd,btkcd->btkc", grads, embedding.weight[subs]) - reference[..., None, None]
                    hyp = torch.where(subs == UNK_ID, torch.zeros_like(hyp), hyp)
                    ig = torch.cat([ig[..., None], hyp.flatten(2)], dim=-1)
            total = ig if total is None else total + ig
        return total / (len(references) or 1)

    was_training = model.training
    model.eval()
    try:
        encoded = encode(sequences, k, overflow="split")
        kmer_scores = score_kmers(model, encoded, score, batch_size, device, progress, "integrated gradients")
    finally:
        model.train(was_training)
    if not hypothetical:
        return BaseScores.from_list([spread_kmer_scores(s, k) for s in kmer_scores])
    scores = BaseScores.from_list([spread_kmer_scores(s[:, 0], k) for s in kmer_scores])
    hyp = [_spread_hypothetical(s[:, 1:].reshape(-1, k, 4), k).astype(np.float32) for s in kmer_scores]
    return Attributions(scores, hyp)
