"""Synthetic attention data for motif discovery's tests and benchmarks: a motif planted in random sequences under high attention."""

from __future__ import annotations

import numpy as np

from dnabert.interpret.motifs.model import information_content
from dnabert.io import InputError


def synthetic_attention_data(
    probs: np.ndarray, n_pos: int, n_neg: int, length: int = 101, core: int = 6, amplitude: float = 3.0,
    jitter: int = 1, seed: int = 0,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Random sequences with one site sampled from ``probs`` (``(4, width)``) planted in each positive.

    Attention is smooth noise plus ``amplitude`` over the ``core`` most
    informative consecutive columns of the site (edges jittered by up to
    ``jitter`` bases), mimicking a model that attends to a motif's core.
    Negatives are random with the same base composition. Returns
    ``(pos_seqs, neg_seqs, pos_scores (n_pos, length), site_starts)``.
    """
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=float)
    width = probs.shape[1]
    if width > length:
        raise InputError(None, f"motif of width {width} does not fit in {length} bp", field="length")
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    pos = rng.integers(0, 4, size=(n_pos, length))
    neg = rng.integers(0, 4, size=(n_neg, length))
    cum = np.cumsum(probs.T, axis=1)
    cum[:, -1] = 1.0
    sites = (rng.random((n_pos, width, 1)) > cum[None]).sum(axis=2)
    site_start = rng.integers(0, length - width + 1, size=n_pos)
    cols = site_start[:, None] + np.arange(width)[None, :]
    pos[np.arange(n_pos)[:, None], cols] = sites
    ic = information_content(probs)
    core = min(core, width)
    core_start = int(np.argmax(np.convolve(ic, np.ones(core), mode="valid")))
    noise = rng.gamma(2.0, 0.5, size=(n_pos, length + 4))
    scores = np.lib.stride_tricks.sliding_window_view(noise, 5, axis=1).mean(axis=2)  # k-mer-like smoothing
    scores = scores - scores.min(axis=1, keepdims=True) + 0.01  # near-zero minimum, as softmax attention
    lo = site_start + core_start + rng.integers(-jitter, jitter + 1, size=n_pos)
    hi = site_start + core_start + core + rng.integers(-jitter, jitter + 1, size=n_pos)
    idx = np.arange(length)[None, :]
    scores = scores + amplitude * ((idx >= lo[:, None]) & (idx < hi[:, None]))
    pos_seqs = [row.tobytes().decode("ascii") for row in letters[pos]]
    neg_seqs = [row.tobytes().decode("ascii") for row in letters[neg]]
    return pos_seqs, neg_seqs, scores, site_start


def synthetic_contributions(
    probs: np.ndarray, n_pos: int, length: int = 101, fraction: float = 1.0, noise: float = 0.02, seed: int = 0,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Random sequences with a site of ``probs`` planted in ``fraction`` of them, and hypothetical contributions.

    The contributions are small Gaussian noise plus, over each site, the matrix's
    log-odds against a uniform background (every base of every site column: what an
    attribution method gives a model that has learnt the motif). Returns
    ``(sequences, hypothetical (n, length, 4) ACGT, site_starts (-1: no site))``.
    """
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=float)
    sequences, _, _, starts = synthetic_attention_data(probs, n_pos, 0, length=length, seed=seed)
    hyp = rng.normal(0.0, noise, size=(n_pos, length, 4))
    log_odds = np.log2((probs.T + 0.01) / 0.25)  # (width, 4)
    without = rng.random(n_pos) >= fraction
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    for i in range(n_pos):
        if without[i]:  # no site: a random sequence instead
            sequences[i] = letters[rng.integers(0, 4, size=length)].tobytes().decode("ascii")
            starts[i] = -1
        else:
            hyp[i, starts[i] : starts[i] + probs.shape[1]] += 0.1 * log_odds
    return sequences, hyp.astype(np.float32), starts
