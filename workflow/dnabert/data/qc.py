"""Dataset QC: counts per class and split, GC/length summaries, leakage checks and the GC plot.

Reads the three splits that :mod:`dnabert.data.datasets` writes and gives the
``qc/`` folder: ``counts.tsv``, ``composition.tsv``, ``summary.json`` and a PNG.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dnabert.data import negatives as neg
from dnabert.data.datasets import read_dataset
from dnabert.data.intervals import IntervalIndex, Intervals
from dnabert.data.splits import SPLITS
from dnabert.io import PathLike, atomic_path, read_json
from dnabert.sequence import reverse_complement


def _gc(sequences: pd.Series) -> np.ndarray:
    s = sequences.str
    gc = (s.count("G") + s.count("C")).to_numpy(dtype=float)
    real = (sequences.str.len() - s.count("N")).to_numpy(dtype=float)
    return gc / np.maximum(real, 1)


def cross_split_overlaps(frame: pd.DataFrame) -> int:
    """Rows whose interval overlaps an interval of another split (0 for a leakage-free dataset)."""
    located = frame[frame["start"].notna()]
    hits = 0
    for name in SPLITS:
        mine = located[located["split"] == name]
        other = located[located["split"] != name]
        if mine.empty or other.empty:
            continue
        index = IntervalIndex(Intervals(other["chrom"].to_numpy(object), other["start"].to_numpy(np.int64),
                                        other["end"].to_numpy(np.int64)))
        hits += int(index.overlaps(Intervals(mine["chrom"].to_numpy(object), mine["start"].to_numpy(np.int64),
                                             mine["end"].to_numpy(np.int64))).sum())
    return hits


def dataset_qc(task: str, inputs: Mapping[str, PathLike], outputs: Mapping[str, PathLike]) -> dict[str, Any]:
    """Counts per class and split, GC/length summaries, leakage checks and a GC plot of positives vs negatives.

    ``outputs`` names ``counts``, ``composition``, ``summary`` (JSON) and ``plot`` (PNG). With
    ``inputs['duplicates']`` (the dataset job's report of repeated sequences) the summary
    gets its counts under ``duplicates``.
    """
    frame = pd.concat([read_dataset(inputs[name]).assign(split=name) for name in SPLITS], ignore_index=True)
    frame["gc"] = _gc(frame["sequence"])
    frame["length"] = frame["sequence"].str.len()
    counts = (frame.groupby(["split", "label", "source"]).size().rename("count").reset_index())
    counts["split"] = pd.Categorical(counts["split"], SPLITS)
    counts = counts.sort_values(["split", "label", "source"])
    stats = frame.groupby(["split", "label", "source"]).agg(
        n=("gc", "size"), gc_mean=("gc", "mean"), gc_sd=("gc", "std"), gc_min=("gc", "min"),
        gc_median=("gc", "median"), gc_max=("gc", "max"), length_min=("length", "min"),
        length_median=("length", "median"), length_max=("length", "max"),
    ).reset_index()
    stats["split"] = pd.Categorical(stats["split"], SPLITS)
    stats = stats.sort_values(["split", "label", "source"])
    keys = pd.Series([min(s, reverse_complement(s)) for s in frame["sequence"]])
    shared = int(pd.DataFrame({"key": keys, "split": frame["split"]}).groupby("key")["split"].nunique().gt(1).sum())
    positives = frame[frame["label"] > 0] if (frame["label"] > 0).any() else frame
    negatives = frame[frame["label"] == 0]
    distance = {
        source: {"gc_histogram_tvd": neg.histogram_distance(positives["gc"].to_numpy(), part["gc"].to_numpy()),
                 "gc_ks": neg.ks_statistic(positives["gc"].to_numpy(), part["gc"].to_numpy())}
        for source, part in negatives.groupby("source")
    }
    summary = {
        "task": task,
        "rows": {name: int((frame["split"] == name).sum()) for name in SPLITS},
        "chromosomes": {name: sorted(frame.loc[(frame["split"] == name) & (frame["chrom"] != ""), "chrom"].unique()
                                     .tolist()) for name in SPLITS},
        "sequences_in_two_splits": shared,
        "intervals_overlapping_another_split": cross_split_overlaps(frame),
        "gc_distance_to_positives": distance,
    }
    if inputs.get("duplicates"):
        summary["duplicates"] = read_json(inputs["duplicates"])
    with contextlib.ExitStack() as stack:
        paths = {key: stack.enter_context(atomic_path(outputs[key])) for key in ("counts", "composition", "summary",
                                                                                "plot")}
        counts.to_csv(paths["counts"], sep="\t", index=False, lineterminator="\n")
        stats.to_csv(paths["composition"], sep="\t", index=False, float_format="%.4f", lineterminator="\n")
        paths["summary"].write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        plot_gc(frame, task, paths["plot"])
    return summary


def plot_gc(frame: pd.DataFrame, task: str, path: PathLike) -> None:
    """GC content and length of positives against each negative type, and counts per split, as PNG."""
    import seaborn as sns

    from dnabert.plots import figure, save

    fig, (ax_gc, ax_len, ax_n) = figure(1, 3, figsize=(15, 4.2), gridspec_kw={"width_ratios": [2, 1.3, 1.3]},
                                        constrained_layout=True)  # fmt: skip
    order = sorted(frame["source"].unique(), key=lambda s: (frame.loc[frame["source"] == s, "label"].iloc[0] == 0, s))
    palette = dict(zip(order, sns.color_palette("colorblind", n_colors=len(order))))
    # A kernel density estimate: histograms of k/width fractions alias into uneven bins.
    varied = [s for s in order if frame.loc[frame["source"] == s, "gc"].nunique() > 1]
    sns.kdeplot(data=frame[frame["source"].isin(varied)], x="gc", hue="source", hue_order=varied,
                common_norm=False, cut=0, bw_adjust=1.2, palette=palette, ax=ax_gc, warn_singular=False)
    ax_gc.set(xlabel="GC content (fraction of bases)", ylabel="density", title=f"{task}: GC content by source",
              xlim=(0, 1))  # fmt: skip
    if ax_gc.get_legend() is not None:
        ax_gc.get_legend().set_title("source (positives first)")
    # Length range (line), quartiles (thick) and median (dot) per source: most tasks have one fixed length.
    lengths = frame.groupby("source")["length"].describe()
    for y, source in enumerate(order):
        row = lengths.loc[source]
        colour = palette[source]
        ax_len.hlines(y, row["min"], row["max"], color=colour, lw=1.5)
        ax_len.hlines(y, row["25%"], row["75%"], color=colour, lw=6)
        ax_len.plot(row["50%"], y, "o", color=colour, mec="white", ms=7)
        text = f"{row['min']:,.0f} bp" if row["min"] == row["max"] else f"{row['min']:,.0f}-{row['max']:,.0f} bp"
        ax_len.annotate(text, (row["max"], y), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    low, high = float(frame["length"].min()), float(frame["length"].max())
    pad = max(0.15 * (high - low), 0.1 * high, 1.0)
    ax_len.set_xlim(max(0.0, low - pad), high + 2 * pad)
    ax_len.set_yticks(range(len(order)), order)
    ax_len.set_ylim(len(order) - 0.5, -0.5)
    ax_len.set(xlabel="sequence length (bp)", ylabel="", title="length by source (median, quartiles, range)")
    sns.countplot(data=frame, x="split", hue="source", hue_order=order, order=list(SPLITS), palette=palette,
                  ax=ax_n)
    ax_n.set(xlabel="split", ylabel="sequences", title="sequences per split")
    if ax_n.get_legend() is not None:
        ax_n.get_legend().remove()
    save(fig, path)
