"""P-values of motif discovery and matching: DNABERT's hypergeometric enrichment test, multiple-testing adjustment."""

from __future__ import annotations

import numpy as np

from dnabert.io import InputError

#: The p-value adjustments :func:`adjust_pvalues` knows.
P_ADJUST = ("fdr_bh", "bonferroni", "none")


def hypergeom_pvalues(pos_counts: np.ndarray, neg_counts: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """DNABERT's enrichment p-value per candidate: ``hypergeom.sf(x - 1, N, K, n)``.

    ``N = n_pos + n_neg`` sequences, ``K = n_pos``, ``n = pos + neg`` sequences
    with the candidate, ``x = pos`` of them positive. The counts must be of
    *sequences* (each at most once per candidate): more than ``n_pos`` positives or
    ``n_neg`` negatives has no hypergeometric p-value (scipy returns NaN) and is an error.
    """
    from scipy.stats import hypergeom

    x = np.asarray(pos_counts, dtype=np.int64)
    neg = np.asarray(neg_counts, dtype=np.int64)
    n = x + neg
    if x.size == 0:
        return np.zeros(0)
    bad = np.flatnonzero((x < 0) | (neg < 0) | (x > n_pos) | (neg > n_neg))
    if bad.size:
        i = int(bad[0])
        raise InputError(None, f"candidate {i}: {int(x[i])} positive and {int(neg[i])} negative sequences of "
                         f"{n_pos} and {n_neg}: counts must be of sequences, each at most once", field="counts")
    # many candidates share (x, n): evaluate each pair once
    pairs, inverse = np.unique(np.stack([x, n], axis=1), axis=0, return_inverse=True)
    p = np.asarray(hypergeom.sf(pairs[:, 0] - 1, n_pos + n_neg, n_pos, pairs[:, 1]), dtype=float)
    return p[inverse.ravel()]


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (as statsmodels' ``fdr_bh``), capped at 1.

    NaN p-values (no test) stay NaN and are not counted among the tests, as R's
    ``p.adjust`` does with NA: one NaN does not turn every adjusted value into NaN.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    if m == 0:
        return out
    order = tested[np.argsort(p[tested], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(adjusted, 1.0)
    return out


def adjust_pvalues(pvalues: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """``fdr_bh`` (Benjamini-Hochberg), ``bonferroni`` or ``none`` (NaN p-values stay NaN and are not counted)."""
    p = np.asarray(pvalues, dtype=float)
    if method == "fdr_bh":
        return bh_adjust(p)
    if method == "bonferroni":  # NaN stays NaN and is not counted, as in bh_adjust
        return np.minimum(p * int((~np.isnan(p)).sum()), 1.0)
    if method == "none":
        return p.copy()
    raise InputError(None, f"unknown p-value adjustment {method!r}; use one of {P_ADJUST}", field="p_adjust")
