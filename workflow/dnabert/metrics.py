"""Classification metrics for one test set, and their aggregation over seeds.

:func:`classification_metrics` takes integer labels ``0..C-1`` and a matrix of
class probabilities (rows sum to 1) and returns a JSON-ready mapping:

* ``accuracy``, ``mcc`` (Matthews; the multi-class form of Gorodkin 2004),
  ``f1`` (macro average over classes), ``precision`` and ``recall`` (of class
  1 for a binary task, macro averages otherwise);
* ``auroc`` and ``auprc`` (average precision) of the class-1 probability for a
  binary task; for more classes the macro average of one-vs-rest values over the
  classes present in the labels;
* ``confusion_matrix`` (rows: true class, columns: predicted class), ``n`` and
  ``class_counts``.

Predictions are the arg-max class. A ranking metric that is undefined (a test
set with one class only) is ``None`` (JSON ``null``) and logged, never a made-up
number. Everything is computed with :mod:`sklearn.metrics`.

:func:`collapsed` flags a run that predicts one class for every example.

:func:`aggregate` turns per-seed metrics into mean and sample standard deviation
(``ddof=1``; ``None`` with a single seed), ignoring seeds where a value is undefined.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Scalar metrics, in the order tables show them.
SCALAR_METRICS: tuple[str, ...] = ("accuracy", "f1", "mcc", "auroc", "auprc", "precision", "recall")
#: Dev-set quantities a run can select its best checkpoint on (``loss``: lower is better).
SELECTION_METRICS: tuple[str, ...] = ("loss", *SCALAR_METRICS)


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probabilities must be an (n, C >= 2) matrix, got shape {probs.shape}")
    if labels.shape != (probs.shape[0],):
        raise ValueError(f"{labels.shape[0] if labels.ndim else 0} labels for {probs.shape[0]} probability rows")
    if labels.size == 0:
        raise ValueError("no examples to evaluate")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {labels.dtype}")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"labels must be in 0..{probs.shape[1] - 1}, got {labels.min()}..{labels.max()}")
    if not np.all(np.isfinite(probs)):
        raise ValueError("probabilities contain NaN or infinite values")
    return labels.astype(np.int64), probs


def _ranking(labels: np.ndarray, probs: np.ndarray) -> tuple[float | None, float | None]:
    """AUROC and AUPRC: of class 1 when binary, else macro one-vs-rest over classes present."""
    from sklearn import metrics as skm

    n_classes = probs.shape[1]
    present = np.unique(labels)
    if present.size < 2:
        log.warning("only class %s in the labels: AUROC and AUPRC are undefined", present.tolist())
        return None, None
    if n_classes == 2:
        return (float(skm.roc_auc_score(labels, probs[:, 1])),
                float(skm.average_precision_score(labels, probs[:, 1])))  # fmt: skip
    aurocs, auprcs = [], []
    for c in present:
        truth = labels == c
        aurocs.append(skm.roc_auc_score(truth, probs[:, c]))
        auprcs.append(skm.average_precision_score(truth, probs[:, c]))
    if present.size < n_classes:
        log.warning("classes %s absent from the labels: AUROC/AUPRC average over the %d present",
                    sorted(set(range(n_classes)) - set(present.tolist())), present.size)  # fmt: skip
    return float(np.mean(aurocs)), float(np.mean(auprcs))


def classification_metrics(labels: Sequence[int] | np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """All metrics of one evaluation (see the module docstring)."""
    from sklearn import metrics as skm  # imported here: aggregation alone needs only numpy

    labels, probs = _check(np.asarray(labels), probs)
    n_classes = probs.shape[1]
    classes = list(range(n_classes))
    predicted = probs.argmax(axis=1)
    binary = n_classes == 2
    average = "binary" if binary else "macro"
    with warnings.catch_warnings():
        # A class never predicted has an undefined precision; scikit-learn counts it as 0 (zero_division=0).
        warnings.simplefilter("ignore", category=UserWarning)
        precision, recall, f1_binary, _ = skm.precision_recall_fscore_support(
            labels, predicted, labels=classes if not binary else None, average=average, zero_division=0
        )
        f1 = skm.f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)
        mcc = skm.matthews_corrcoef(labels, predicted)
    auroc, auprc = _ranking(labels, probs)
    return {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "f1": float(f1),
        "mcc": float(mcc),
        "auroc": auroc,
        "auprc": auprc,
        "precision": float(precision),
        "recall": float(recall),
        "confusion_matrix": skm.confusion_matrix(labels, predicted, labels=classes).tolist(),
        "n": int(labels.size),
        "class_counts": np.bincount(labels, minlength=n_classes).tolist(),
    }


def cross_entropy(labels: np.ndarray, probs: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the true classes."""
    labels, probs = _check(np.asarray(labels), probs)
    return float(-np.mean(np.log(np.clip(probs[np.arange(labels.size), labels], eps, 1.0))))


def collapsed(confusion: Sequence[Sequence[int]] | None) -> bool:
    """True when every prediction (a column of the confusion matrix) falls in one class: a collapsed run."""
    if not confusion:
        return False
    predicted = [sum(column) for column in zip(*confusion)]
    return sum(count > 0 for count in predicted) <= 1 and sum(predicted) > 0


def is_better(metric: str, value: float | None, best: float | None) -> bool:
    """Whether ``value`` of a selection metric beats ``best`` (``loss`` is minimised, the rest maximised)."""
    if metric not in SELECTION_METRICS:
        raise ValueError(f"unknown selection metric {metric!r}; use one of {', '.join(SELECTION_METRICS)}")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value < best if metric == "loss" else value > best


def aggregate(runs: Mapping[str, Mapping[str, Any]], keys: Sequence[str] = SCALAR_METRICS) -> dict[str, Any]:
    """Mean and sample sd of each scalar metric over runs (e.g. seeds), and a ``mean ± sd`` text.

    Undefined values (``None``) are left out of a metric's mean, and ``n`` says how many counted.
    """
    mean: dict[str, float | None] = {}
    sd: dict[str, float | None] = {}
    counted: dict[str, int] = {}
    text: dict[str, str] = {}
    for key in keys:
        values = np.array([float(run[key]) for run in runs.values() if run.get(key) is not None], dtype=np.float64)
        counted[key] = int(values.size)
        mean[key] = float(values.mean()) if values.size else None
        sd[key] = float(values.std(ddof=1)) if values.size > 1 else None
        text[key] = format_mean_sd(mean[key], sd[key])
    return {"mean": mean, "sd": sd, "n": counted, "text": text}


def format_mean_sd(mean: float | None, sd: float | None, digits: int = 3) -> str:
    """``0.912 ± 0.004``; ``0.912`` without an sd; ``n/a`` without a mean."""
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f}" if sd is None else f"{mean:.{digits}f} ± {sd:.{digits}f}"
