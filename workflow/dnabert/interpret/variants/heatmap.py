"""The in-silico mutagenesis heatmap: per sequence a panel of 4 alt bases x positions, coloured by effect."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnabert.interpret.variants.scores import BASES
from dnabert.io import PathLike

_BASE_ROW = np.full(256, -1, dtype=np.int64)
for _row, _base in enumerate(BASES):
    _BASE_ROW[ord(_base)] = _row


def _base_rows(bases: pd.Series) -> np.ndarray:
    """Heatmap row (A C G T) of each single-base string; -1 for anything else."""
    return _BASE_ROW[np.frombuffer("".join(bases).encode("ascii"), dtype=np.uint8)]


def plot_ism(table: pd.DataFrame, path: PathLike, *, target_class: int = 1) -> None:
    """Heatmap of an ISM table: per sequence a panel of 4 bases x positions, coloured by ``delta_prob``.

    Colours share one symmetric scale centred at 0 (diverging map); the reference base
    of each position is marked with a dot, and each panel's title gives the sequence
    name and its reference probability.
    """
    from matplotlib.ticker import MaxNLocator

    from dnabert.plots import DIVERGING_CMAP, figure, save

    groups = list(table.groupby("id", sort=False)) if "id" in table.columns else [("sequence", table)]
    if not groups or table.empty:
        raise ValueError("nothing to plot: the ISM table is empty")
    length = int(table["position"].max()) + 1
    limit = float(np.nanmax(np.abs(table["delta_prob"].to_numpy()))) or 1e-6
    width = float(np.clip(0.09 * length + 2.5, 7, 40))
    fig, axes = figure(len(groups), 1, figsize=(width, 1.45 * len(groups) + 1.0), squeeze=False,
                       constrained_layout=True)  # fmt: skip
    image = None
    for ax, (name, group) in zip(axes[:, 0], groups):
        n = int(group["position"].max()) + 1
        grid = np.zeros((len(BASES), n))
        position = group["position"].to_numpy()
        alt_row = _base_rows(group["alt"])
        grid[alt_row, position] = group["delta_prob"].to_numpy()
        image = ax.imshow(grid, aspect="auto", cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit,
                          interpolation="nearest", extent=(-0.5, n - 0.5, len(BASES) - 0.5, -0.5))  # fmt: skip
        refs = group.drop_duplicates("position")
        ref_row = _base_rows(refs["ref"])
        known = ref_row >= 0
        ax.scatter(refs["position"].to_numpy()[known], ref_row[known], s=float(np.clip(900 / n, 2, 25)), c="black",
                   marker="o", linewidths=0, label="reference base")  # fmt: skip
        ax.set_yticks(range(len(BASES)), list(BASES))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=20))
        ax.set_xlim(-0.5, length - 0.5)
        ax.grid(False)
        ax.set_ylabel("alt base")
        p_ref = float(group["prob_ref"].iloc[0])
        ax.set_title(f"{name}: P(class {target_class}) = {p_ref:.3f}", fontsize="medium")
    axes[-1, 0].set_xlabel("position (bp, 0-based); dot = reference base")
    colorbar = fig.colorbar(image, ax=axes[:, 0].tolist(), shrink=1.0, pad=0.01)
    colorbar.set_label(f"\u0394 P(class {target_class})\n(mutant \u2212 reference)")
    fig.suptitle("In-silico mutagenesis", fontweight="bold")
    save(fig, path)
