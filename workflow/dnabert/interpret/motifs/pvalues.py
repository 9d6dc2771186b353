"""P-values of motif discovery and matching: DNABERT's hypergeometric enrichment test, multiple-testing adjustment."""

from __future__ import annotations

import numpy as np

from dnabert.io import InputError

#: The p-value adjustments :func:`adjust_pvalues` knows.
P_ADJUST = ("fdr_bh", "bonferroni", "none")


def hypergeom_pvalues(pos_counts: np.ndarray, neg_counts: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """DNABERT's enrichment p-value per candidate: ``hypergeom.sf(x - 1, N, K, n)``.

    ``N = n_pos + n_neg`` sequences, ``K = n_pos``, ``n = pos + neg`` sequences
    with the candidate, ``x = pos`` of them positive.
    """
    from scipy.stats import hypergeom

    x = np.asarray(pos_counts, dtype=np.int64)
    n = x + np.asarray(neg_counts, dtype=np.int64)
    if x.size == 0:
        return np.zeros(0)
    # many candidates share (x, n): evaluate each pair once
    pairs, inverse = np.unique(np.stack([x, n], axis=1), axis=0, return_inverse=True)
    p = np.asarray(hypergeom.sf(pairs[:, 0] - 1, n_pos + n_neg, n_pos, pairs[:, 1]), dtype=float)
    return p[inverse.ravel()]


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (as statsmodels' ``fdr_bh``), capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def adjust_pvalues(pvalues: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """``fdr_bh`` (Benjamini-Hochberg), ``bonferroni`` or ``none``."""
    p = np.asarray(pvalues, dtype=float)
    if method == "fdr_bh":
        return bh_adjust(p)
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method == "none":
        return p.copy()
    raise InputError(None, f"unknown p-value adjustment {method!r}; use one of {P_ADJUST}", field="p_adjust")
