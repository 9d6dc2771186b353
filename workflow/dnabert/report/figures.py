"""Per-task evaluation figures for the report, from the test predictions of every model.

* :func:`read_predictions` / :func:`model_predictions`: predictions TSVs
  (``label``, optional ``run``, ``prob_0 ... prob_{C-1}``) as (labels, probabilities) per model and run.
* :func:`plot_curves`: ROC and precision-recall curves, one line per model and run.
* :func:`plot_confusion`: one confusion matrix per model, summed over runs
  (:func:`class_names` names the classes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dnabert.html import read_tsv
from dnabert.io import InputError, PathLike
from dnabert.metrics import format_mean_sd
from dnabert.plots import PALETTE, figure, save



def read_predictions(path: PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Run name -> (labels, class probabilities) from a predictions TSV (``run`` column optional)."""
    rows = read_tsv(path)
    if not rows:
        raise InputError(path, "no predictions")
    probs_cols = sorted((c for c in rows[0] if c.startswith("prob_")), key=lambda c: int(c.split("_")[1]))
    if "label" not in rows[0] or len(probs_cols) < 2:
        raise InputError(path, "expected columns label and prob_0, prob_1, ...", line=1)
    runs: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        runs.setdefault(row.get("run") or "", []).append(row)
    return {
        run: (np.array([int(r["label"]) for r in items]), np.array([[float(r[c]) for c in probs_cols] for r in items]))
        for run, items in runs.items()
    }


def model_predictions(files: Mapping[str, Sequence[PathLike]]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Model name -> run name -> (labels, probabilities), from each model's predictions files."""
    models: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for model, paths in files.items():
        paths = [Path(path) for path in paths]
        # A file without a run column is one run, named by its folder (seed1/, ...) or else its file name.
        folders = [path.parent.name for path in paths]
        names = folders if len(set(folders)) == len(paths) else [path.stem for path in paths]
        runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, path in zip(names, paths):
            for run, data in read_predictions(path).items():
                runs[run or name] = data
        models[model] = runs
    return models


def class_names(task_type: str, n_classes: int) -> list[str]:
    """The names of a task's classes in figures: splice sites, negative/positive, or the labels."""
    if task_type == "splice" and n_classes == 3:
        return ["non-splice", "donor", "acceptor"]
    if n_classes == 2 and task_type in ("peaks", "promoters"):
        return ["negative", "positive"]
    return [str(i) for i in range(n_classes)]


def _colour(model: str, i: int) -> str:
    if model in PALETTE:
        return PALETTE[model]
    if model.startswith("dnabert") or model.startswith("bert"):
        return PALETTE["bert"]
    import seaborn as sns

    return sns.color_palette("colorblind")[(i + 3) % 10]


def _binary_view(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class-1 scores for two classes; one-vs-rest indicator and scores flattened (micro-average) for more."""
    if probs.shape[1] == 2:
        return (labels == 1).astype(int), probs[:, 1]
    onehot = np.eye(probs.shape[1], dtype=int)[labels]
    return onehot.ravel(), probs.ravel()


def plot_curves(models: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], path: PathLike,
                title: str = "") -> None:  # fmt: skip
    """ROC (left) and precision-recall (right) curves on the test split: one line per model and run."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    fig, (ax_roc, ax_pr) = figure(1, 2, figsize=(10.5, 4.4), constrained_layout=True)
    multiclass = False
    base_rate = None
    for i, (model, runs) in enumerate(models.items()):
        colour = _colour(model, i)
        aurocs, aps = [], []
        for j, (labels, probs) in enumerate(runs.values()):
            multiclass |= probs.shape[1] > 2
            truth, score = _binary_view(labels, probs)
            if truth.min() == truth.max():
                continue
            fpr, tpr, _ = roc_curve(truth, score)
            precision, recall, _ = precision_recall_curve(truth, score)
            aurocs.append(auc(fpr, tpr))
            aps.append(average_precision_score(truth, score))
            base_rate = truth.mean()
            alpha = 0.9 if j == 0 else 0.45
            ax_roc.plot(fpr, tpr, color=colour, lw=1.4, alpha=alpha)
            ax_pr.plot(recall, precision, color=colour, lw=1.4, alpha=alpha, drawstyle="steps-post")
        runs_text = f", {len(aurocs)} runs" if len(aurocs) > 1 else ""
        ax_roc.plot([], [], color=colour, lw=2, label=f"{model}: {format_mean_sd(*_mean_sd(aurocs))}{runs_text}")
        ax_pr.plot([], [], color=colour, lw=2, label=f"{model}: {format_mean_sd(*_mean_sd(aps))}{runs_text}")
    ax_roc.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="chance")
    if base_rate is not None:
        ax_pr.axhline(base_rate, color="grey", ls="--", lw=0.8, label="chance (share of positives)")
    kind = " (one-vs-rest, micro-average)" if multiclass else ""
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
               title=f"ROC{kind}")  # fmt: skip
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title=f"precision-recall{kind}")
    ax_roc.legend(title="model: AUROC", fontsize=8, title_fontsize=8, loc="lower right")
    ax_pr.legend(title="model: average precision", fontsize=8, title_fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title)
    save(fig, path)


def _mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def plot_confusion(models: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], path: PathLike,
                   names: Sequence[str], title: str = "") -> None:  # fmt: skip
    """One confusion matrix per model (summed over runs): colour = share of the true class, text = count."""
    n = len(names)
    fig, axes = figure(1, len(models), figsize=(3.3 * len(models) + 1.0, 3.4 + 0.25 * n), squeeze=False,
                       constrained_layout=True)  # fmt: skip
    image = None
    for ax, (model, runs) in zip(axes[0], models.items()):
        matrix = np.zeros((n, n), dtype=np.int64)
        for labels, probs in runs.values():
            np.add.at(matrix, (labels, probs.argmax(axis=1)), 1)
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (r, c), count in np.ndenumerate(matrix):
            ax.text(c, r, f"{count:,}\n{share[r, c]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if share[r, c] > 0.6 else "black")  # fmt: skip
        ax.set_xticks(range(n), names, rotation=30 if n > 2 else 0, ha="right" if n > 2 else "center")
        ax.set_yticks(range(n), names)
        ax.set(xlabel="predicted class", ylabel="true class",
               title=f"{model}" + (f" ({len(runs)} runs)" if len(runs) > 1 else ""))  # fmt: skip
        ax.grid(False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="share of the true class")
    if title:
        fig.suptitle(title)
    save(fig, path)

