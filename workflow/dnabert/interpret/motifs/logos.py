"""Information-content logos of motifs (logomaker), alone, above their best TOMTOM match, or beside it in one figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.model import ALPHABET, Motif, MotifMatrix, information_content, reverse_complement_matrix
from dnabert.io import PathLike


def draw_logo(ax, probs: np.ndarray, start: int = 0) -> None:
    """An information-content logo of a ``(4, width)`` matrix on ``ax``, positions from ``start``."""
    import logomaker

    probs = np.asarray(probs, dtype=float)
    heights = probs * np.clip(information_content(probs), 0, None)[None, :]  # letter height = p x bits
    df = pd.DataFrame(heights.T, columns=list(ALPHABET), index=np.arange(start, start + probs.shape[1]))
    logomaker.Logo(df, ax=ax, color_scheme="classic")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")


def plot_logos(motifs: Sequence[Motif | MotifMatrix], outdir: PathLike) -> list[Path]:
    """One information-content logo per motif, ``<outdir>/<id>.png``; returns the paths."""
    from dnabert.plots import figure, save

    outdir = Path(outdir)
    paths = []
    for m in motifs:
        fig, ax = figure(figsize=(max(4.0, 0.35 * m.width), 2.2))
        draw_logo(ax, m.probs)
        title = f"{m.id}  n={m.n_instances}  seed {m.seed}" if isinstance(m, Motif) else f"{m.id}  n={m.nsites}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("position")
        path = outdir / f"{m.id}.png"
        save(fig, path)
        paths.append(path)
    return paths


def plot_logos_with_matches(
    motifs: Sequence[Motif | MotifMatrix], tomtom: pd.DataFrame, targets: Sequence[MotifMatrix], outdir: PathLike
) -> list[Path]:
    """Each motif's logo above its best TOMTOM match's, aligned at the match offset, ``<outdir>/<id>_match.png``.

    The match is reverse-complemented when it matched on the minus strand; its
    title gives the JASPAR id, name, q-value and strand.
    """
    from dnabert.plots import figure, save

    by_id = {t.id: t for t in targets}
    best = tomtom[tomtom["rank"] == 1].set_index("query") if len(tomtom) else pd.DataFrame()
    outdir = Path(outdir)
    paths = []
    for m in motifs:
        row = best.loc[m.id] if m.id in best.index else None
        target = by_id.get(row["target_id"]) if row is not None else None
        if target is None:
            fig, ax = figure(figsize=(max(4.0, 0.35 * m.width), 2.2))
            draw_logo(ax, m.probs)
            ax.set_title(f"{m.id}: no TOMTOM match", fontsize=10)
        else:
            tprobs = target.probs if row["orientation"] == "+" else reverse_complement_matrix(target.probs)
            off = int(row["offset"])
            lo, hi = min(0, -off), max(m.width, target.width - off)
            fig, axes = figure(2, 1, figsize=(max(4.0, 0.35 * (hi - lo)), 4.2), sharex=True)
            draw_logo(axes[0], m.probs)
            axes[0].set_title(f"{m.id} ({m.consensus})", fontsize=10)
            draw_logo(axes[1], tprobs, start=-off)
            axes[1].set_title(f"{target.id} {target.name}  q={row['qvalue']:.2g}  strand {row['orientation']}", fontsize=10)
            axes[1].set_xlim(lo - 0.5, hi - 0.5)
            axes[1].set_xlabel("position in discovered motif")
        path = outdir / f"{m.id}_match.png"
        save(fig, path)
        paths.append(path)
    return paths


def plot_matches(motifs: Sequence[MotifMatrix], tomtom: pd.DataFrame, targets: Sequence[MotifMatrix],
                 path: PathLike, *, qvalue: float = 0.05, title: str = "") -> None:  # fmt: skip
    """One row per motif: its logo (left) beside its best JASPAR match's (right, oriented as matched)."""
    from matplotlib.ticker import MaxNLocator

    from dnabert.plots import figure, save

    by_id = {t.id: t for t in targets}
    best = tomtom[tomtom["rank"] == 1].set_index("query") if len(tomtom) else pd.DataFrame()
    fig, axes = figure(max(len(motifs), 1), 2, figsize=(12, 2.4 * max(len(motifs), 1) + 0.6), squeeze=False,
                       layout="constrained")  # fmt: skip
    if not motifs:
        for ax in axes[0]:
            ax.axis("off")
        axes[0, 0].text(0.5, 0.5, "no motif passed the filters", ha="center", va="center",
                        transform=axes[0, 0].transAxes)  # fmt: skip
    for (left, right), motif in zip(axes, motifs):
        draw_logo(left, motif.probs)
        left.set_title(f"{motif.id}  {motif.consensus}", fontsize=9)
        row = best.loc[motif.id] if motif.id in best.index else None
        target = by_id.get(row["target_id"]) if row is not None else None
        if target is None:
            right.axis("off")
            right.text(0.5, 0.5, "no match", ha="center", va="center", transform=right.transAxes)
            continue
        probs = target.probs if row["orientation"] == "+" else reverse_complement_matrix(target.probs)
        draw_logo(right, probs)
        verdict = "match" if row["qvalue"] < qvalue else "not significant"
        right.set_title(f"{target.id} {target.name} ({row['orientation']})  q = {row['qvalue']:.2g}, {verdict}",
                        fontsize=9)  # fmt: skip
    for ax in axes.ravel():
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[-1]:
        ax.set_xlabel("position (bp)")
    if title:
        fig.suptitle(title)
    save(fig, path)
