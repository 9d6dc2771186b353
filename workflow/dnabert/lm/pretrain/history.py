"""The training log: its columns and rows, their TensorBoard tags, the summary of its losses, its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dnabert.lm.pretrain.checkpoints import TrainState

HISTORY_FIELDS = (
    "step", "tokens", "elapsed_s", "lr", "mask_rate", "train_loss", "train_accuracy",
    "eval_loss", "eval_accuracy", "eval_mask_accuracy", "tokens_per_s", "padding_fraction",
)

#: TensorBoard tag of each logged number (the CSV log's columns).
BOARD_TAGS = {
    "train_loss": "train/loss", "train_accuracy": "train/masked_accuracy", "eval_loss": "held_out/loss",
    "eval_accuracy": "held_out/masked_accuracy", "eval_mask_accuracy": "held_out/accuracy_at_mask_inputs",
    "lr": "optimizer/lr", "mask_rate": "masking/rate", "tokens_per_s": "speed/tokens_per_s",
    "padding_fraction": "speed/padding_fraction",
}  # fmt: skip


def history_row(state: TrainState, values: dict[str, Any]) -> dict[str, Any]:
    """A log row at the current step: step, tokens and elapsed seconds, then ``values``."""
    return {"step": state.step, "tokens": state.tokens, "elapsed_s": round(state.elapsed, 3), **values}


def board_values(row: dict[str, Any]) -> dict[str, Any]:
    """A log row's numbers under their TensorBoard tags."""
    return {tag: row[key] for key, tag in BOARD_TAGS.items() if row.get(key) is not None}


def train_summary(history: list[dict]) -> dict[str, Any]:
    """The first and last logged training losses (empty without training)."""
    losses = [(row["step"], row["train_loss"]) for row in history if row.get("train_loss") is not None]
    if not losses:
        return {}
    return {"first_logged": {"step": losses[0][0], "loss": losses[0][1]},
            "last_logged": {"step": losses[-1][0], "loss": losses[-1][1]}}


def plot_history(path: Path, rows: list[dict], title: str, uniform_loss: float | None = None) -> None:
    """Training and held-out loss and accuracy against steps, as a PNG (with the uniform-guess loss)."""
    from dnabert.plots import PALETTE, figure, save

    def series(key: str) -> tuple[list[int], list[float]]:
        points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
        return [p[0] for p in points], [p[1] for p in points]

    fig, (ax_loss, ax_acc) = figure(1, 2, figsize=(10, 4), constrained_layout=True)
    panels = ((ax_loss, "loss", "masked-token cross-entropy (nats)"),
              (ax_acc, "accuracy", "masked-token accuracy (fraction)"))  # fmt: skip
    for ax, metric, label in panels:
        steps, values = series(f"train_{metric}")
        ax.plot(steps, values, lw=1.2, color=PALETTE["bert"], label="training (interval mean)")
        steps, values = series(f"eval_{metric}")
        ax.plot(steps, values, "o-", ms=4, color=PALETTE["highlight"], label="held-out")
        if metric == "accuracy":
            steps, values = series("eval_mask_accuracy")
            ax.plot(steps, values, "s--", ms=3, color="grey", label="held-out, at [MASK] inputs (from context)")
        if metric == "loss" and uniform_loss is not None:
            ax.axhline(uniform_loss, color="grey", ls="--", lw=1, label=r"uniform guess, $\ln 4^k$")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        ax.legend()
    fig.suptitle(title)
    save(fig, path)
