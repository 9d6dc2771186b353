"""Metrics against scikit-learn and hand-computed values on fixed arrays; aggregation over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from dnabert.metrics import aggregate, classification_metrics, cross_entropy, format_mean_sd, is_better

# A fixed binary example: 10 labels, class-1 probabilities with a tie.
BINARY_LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 1])
BINARY_P1 = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.9, 0.3, 0.6, 0.6, 0.55])
BINARY_PROBS = np.column_stack([1 - BINARY_P1, BINARY_P1])

# A fixed three-class example (splice-like: non-splice, donor, acceptor).
MULTI_LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 1, 2])
MULTI_PROBS = np.array([
    [0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
    [0.3, 0.4, 0.3], [0.4, 0.2, 0.4], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4],
    [0.5, 0.1, 0.4], [0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.25, 0.25, 0.5],
])  # fmt: skip


def test_binary_metrics_match_scikit_learn():
    m = classification_metrics(BINARY_LABELS, BINARY_PROBS)
    predicted = (BINARY_P1 > 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(BINARY_LABELS, predicted))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(BINARY_LABELS, predicted))
    assert m["f1"] == pytest.approx(skm.f1_score(BINARY_LABELS, predicted, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(BINARY_LABELS, predicted))
    assert m["recall"] == pytest.approx(skm.recall_score(BINARY_LABELS, predicted))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(BINARY_LABELS, BINARY_P1))
    assert m["auprc"] == pytest.approx(skm.average_precision_score(BINARY_LABELS, BINARY_P1))
    assert m["confusion_matrix"] == skm.confusion_matrix(BINARY_LABELS, predicted).tolist()
    assert m["n"] == 10 and m["class_counts"] == [5, 5]


def test_binary_metrics_by_hand():
    # Predictions at 0.5: TP 4 (0.7 0.9 0.6 0.55), FN 1 (0.3), FP 2 (0.8 0.6), TN 3.
    m = classification_metrics(BINARY_LABELS, BINARY_PROBS)
    tp, fn, fp, tn = 4, 1, 2, 3
    assert m["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(4 / 6) and m["recall"] == pytest.approx(0.8)
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert m["mcc"] == pytest.approx(mcc)
    # AUROC = P(score of a positive > score of a negative), ties count half: 19.5 of 25 pairs.
    pos, neg = BINARY_P1[BINARY_LABELS == 1], BINARY_P1[BINARY_LABELS == 0]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert m["auroc"] == pytest.approx(pairs / 25)


def test_multiclass_metrics_match_scikit_learn_one_vs_rest():
    m = classification_metrics(MULTI_LABELS, MULTI_PROBS)
    predicted = MULTI_PROBS.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(MULTI_LABELS, predicted))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(MULTI_LABELS, predicted))
    assert m["f1"] == pytest.approx(skm.f1_score(MULTI_LABELS, predicted, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(MULTI_LABELS, predicted, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(MULTI_LABELS, predicted, average="macro"))
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(MULTI_LABELS, MULTI_PROBS, multi_class="ovr",
                                                         average="macro"))  # fmt: skip
    onehot = np.eye(3)[MULTI_LABELS]
    assert m["auprc"] == pytest.approx(skm.average_precision_score(onehot, MULTI_PROBS, average="macro"))
    assert m["confusion_matrix"] == skm.confusion_matrix(MULTI_LABELS, predicted).tolist()
    assert np.array(m["confusion_matrix"]).sum() == 12 and m["class_counts"] == [4, 4, 4]


def test_perfect_and_inverted_predictions():
    labels = np.array([0, 1, 0, 1])
    perfect = classification_metrics(labels, np.eye(2)[labels] * 0.8 + 0.1)
    assert perfect["mcc"] == 1.0 and perfect["auroc"] == 1.0 and perfect["accuracy"] == 1.0
    inverted = classification_metrics(labels, np.eye(2)[1 - labels] * 0.8 + 0.1)
    assert inverted["mcc"] == -1.0 and inverted["auroc"] == 0.0


def test_one_class_gives_undefined_ranking_metrics_not_numbers():
    m = classification_metrics(np.array([1, 1, 1]), np.array([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]))
    assert m["auroc"] is None and m["auprc"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["mcc"] == 0.0  # scikit-learn's convention for a degenerate confusion matrix


def test_a_class_absent_from_the_labels_counts_in_the_confusion_matrix():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.6, 0.2, 0.2], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.3, 0.4, 0.3]])
    m = classification_metrics(labels, probs)
    assert m["confusion_matrix"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    assert m["class_counts"] == [2, 2, 0]
    expected = np.mean([skm.roc_auc_score(labels == c, probs[:, c]) for c in (0, 1)])
    assert m["auroc"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "labels, probs, message",
    [
        (np.array([0, 2]), np.array([[0.5, 0.5], [0.5, 0.5]]), "labels must be in 0..1"),
        (np.array([0]), np.array([[0.5, 0.5], [0.5, 0.5]]), "1 labels for 2"),
        (np.array([0, 1]), np.array([0.5, 0.5]), "matrix"),
        (np.array([0.0, 1.0]), np.array([[0.5, 0.5], [0.5, 0.5]]), "integers"),
        (np.array([0, 1]), np.array([[np.nan, 0.5], [0.5, 0.5]]), "NaN"),
    ],
)
def test_bad_input_is_rejected(labels, probs, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(labels, probs)


def test_cross_entropy_matches_scikit_learn():
    assert cross_entropy(MULTI_LABELS, MULTI_PROBS) == pytest.approx(skm.log_loss(MULTI_LABELS, MULTI_PROBS))


def test_aggregate_mean_and_sample_sd_over_seeds():
    runs = {"1": {"mcc": 0.5, "auroc": 0.8}, "2": {"mcc": 0.7, "auroc": None}, "3": {"mcc": 0.6, "auroc": 0.9}}
    summary = aggregate(runs, keys=("mcc", "auroc"))
    assert summary["mean"]["mcc"] == pytest.approx(0.6)
    assert summary["sd"]["mcc"] == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert summary["mean"]["auroc"] == pytest.approx(0.85) and summary["n"]["auroc"] == 2
    assert summary["text"]["mcc"] == "0.600 ± 0.100"
    single = aggregate({"1": {"mcc": 0.5}}, keys=("mcc",))
    assert single["sd"]["mcc"] is None and single["text"]["mcc"] == "0.500"
    assert format_mean_sd(None, None) == "n/a"


def test_selection_direction():
    assert is_better("loss", 0.3, 0.4) and not is_better("loss", 0.5, 0.4)
    assert is_better("mcc", 0.5, 0.4) and not is_better("auroc", 0.4, 0.5)
    assert is_better("mcc", 0.1, None) and not is_better("auroc", None, 0.5)
    with pytest.raises(ValueError, match="unknown selection metric"):
        is_better("speed", 1.0, 0.0)


def test_macro_averages_all_skip_classes_absent_from_the_labels():
    # Class 2 never occurs in the labels but is predicted twice (rows 1 and 3).
    labels = np.array([0, 0, 1, 1, 0, 1])
    probs = np.array([[0.6, 0.2, 0.2], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4],
                      [0.5, 0.4, 0.1], [0.45, 0.5, 0.05]])  # fmt: skip
    predicted = probs.argmax(axis=1)  # [0, 2, 1, 2, 0, 1]
    m = classification_metrics(labels, probs)
    # By hand over classes 0 and 1: class 0 precision 2/2, recall 2/3; class 1 precision 2/2, recall 2/3.
    assert m["precision"] == pytest.approx(1.0) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(0.8)  # 2 * 1 * (2/3) / (1 + 2/3) for both classes
    # The same as scikit-learn restricted to the present classes, and not its all-class average.
    assert m["f1"] == pytest.approx(skm.f1_score(labels, predicted, labels=[0, 1], average="macro"))
    assert m["f1"] > skm.f1_score(labels, predicted, labels=[0, 1, 2], average="macro", zero_division=0)
    assert m["auroc"] == pytest.approx(np.mean([skm.roc_auc_score(labels == c, probs[:, c]) for c in (0, 1)]))
    assert m["confusion_matrix"][0] == [2, 0, 1] and m["class_counts"] == [3, 3, 0]


def test_binary_labels_without_class_1_leave_precision_and_recall_undefined():
    labels = np.array([0, 0, 0, 0])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2], [0.7, 0.3]])
    m = classification_metrics(labels, probs)
    assert m["precision"] is None and m["recall"] is None and m["auroc"] is None
    assert m["f1"] == pytest.approx(skm.f1_score(labels, [0, 1, 0, 0], labels=[0], average="macro"))
    assert m["f1"] == pytest.approx(2 * 0.75 / 1.75) and m["accuracy"] == pytest.approx(0.75)
