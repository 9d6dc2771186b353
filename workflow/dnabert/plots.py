"""One plotting style for every figure of the workflow (and so of the report).

Use :func:`figure` to get a styled matplotlib figure and :func:`save` to write it
atomically as PNG. Imports of matplotlib/seaborn happen here, with the Agg backend,
so rules run headless.
"""

from __future__ import annotations

from typing import Any

from dnabert.io import PathLike, atomic_path

DPI = 150
# Colours by role, used the same way in every figure.
PALETTE = {
    "positive": "#1b6ca8",
    "negative": "#c8553d",
    "bert": "#1b6ca8",
    "kmer_lr": "#8c8c8c",
    "cnn": "#e0a458",
    "highlight": "#c8553d",
}
HEATMAP_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"


def use_style() -> None:
    """Headless backend and the shared seaborn theme (white grid, readable font sizes)."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", font_scale=0.95)
    matplotlib.rcParams.update({"figure.dpi": DPI, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def figure(*args: Any, **kwargs: Any):
    """``plt.subplots`` in the shared style; returns ``(fig, axes)``."""
    use_style()
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def save(fig, path: PathLike) -> None:
    """Write ``fig`` as PNG atomically (temp file, then rename) and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    plt.close(fig)
