"""Step 1 of the interpretation stage: score a task's sequences with one fine-tuned model.

:func:`score_task` takes a seeded sample of a task's sequences (positives and
negatives of the chosen splits) and writes, for one model (one fine-tuning seed):

* the class probability of every sequence;
* the layer and heads the attention is read from, chosen on dev sequences
  (:mod:`dnabert.interpret.heads`; ``attention/selection.tsv`` holds every
  layer x head's dev AUROC and the choice);
* DNABERT's per-nucleotide attention from that layer and those heads;
* integrated gradients of a seeded sample of the positives with their hypothetical
  contributions (:mod:`dnabert.interpret.attribution`), the input of TF-MoDISco;
* ``scores.npz`` with all of it, ``attention/agreement.tsv`` (attention against
  |integrated gradients| per positive), and the attention heatmap and profile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from dnabert.interpret.attention import attention_scores, head_attention, plot_heatmap, plot_profile
from dnabert.interpret.attribution import integrated_gradients
from dnabert.interpret.heads import HeadSelection, select_heads, write_selection
from dnabert.interpret.scores import BaseScores, ScoredSet, agreement
from dnabert.interpret.settings import InterpretSettings
from dnabert.io import InputError, PathLike, atomic_write
from dnabert.lm.inference import load_for_inference, predict_sequences

log = logging.getLogger(__name__)


def read_sequences(split_files: Mapping[str, PathLike], max_per_class: int, seed: int = 0) -> pd.DataFrame:
    """Rows of the given split files (``sequence label chrom start strand name`` + ``split``).

    Classes larger than ``max_per_class`` are sampled (seeded, order kept).
    """
    frames = []
    for split, path in split_files.items():
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "dataset split not found")
        frame = pd.read_csv(path, sep="\t", dtype={"chrom": str, "strand": str, "name": str},
                            keep_default_na=False)  # fmt: skip
        missing = [c for c in ("sequence", "label") if c not in frame.columns]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
        frame["split"] = split
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    for column, default in (("chrom", ""), ("start", -1), ("strand", "."), ("name", "")):
        if column not in rows.columns:
            rows[column] = default
    rows["start"] = pd.to_numeric(rows["start"], errors="coerce").fillna(-1).astype(np.int64)
    rows["sequence"] = rows["sequence"].str.upper()
    unnamed = rows["name"] == ""
    rows.loc[unnamed, "name"] = [f"{s}_{i}" for s, i in zip(rows.loc[unnamed, "split"], rows.index[unnamed])]
    rng = np.random.default_rng(seed)
    keep = []
    for _, members in rows.groupby("label", sort=True):
        index = members.index.to_numpy()
        if index.size > max_per_class:
            index = np.sort(rng.choice(index, max_per_class, replace=False))
        keep.append(index)
    return rows.loc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def positive_probability(probs: np.ndarray) -> np.ndarray:
    """The model's probability that a sequence is not class 0 (class 1 for binary tasks)."""
    return 1.0 - probs[:, 0]


def attribution_rows(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The positives given integrated gradients: a seeded sample of ``n`` (all if fewer), in row order.

    A sample rather than the model's most confident positives: those of a weak model
    can share a composition bias instead of the motif (TF-MoDISco is usually run on
    every peak).
    """
    positives = np.flatnonzero(np.asarray(labels) > 0)
    if positives.size <= n:
        return positives
    return np.sort(np.random.default_rng(seed).choice(positives, n, replace=False))


def choose_heads(model, k: int, dev_file: PathLike, settings: InterpretSettings, device, autocast) -> HeadSelection:
    """The layer and heads of the attention, chosen on a seeded sample of dev sequences (every layer x head scored)."""
    dev = read_sequences({"dev": dev_file}, settings.selection_sequences, settings.seed)
    rows = head_attention(model, dev["sequence"].tolist(), k, batch_size=settings.batch_size, device=device,
                          autocast=autocast)  # fmt: skip
    return select_heads(rows, dev["label"].to_numpy(), settings.heads, k=k)


def score_task(
    model_dir: PathLike,
    split_files: Mapping[str, PathLike],
    settings: InterpretSettings,
    *,
    dev_file: PathLike,
    scores_out: PathLike,
    selection_out: PathLike,
    agreement_out: PathLike,
    heatmap_out: PathLike,
    profile_out: PathLike,
    task: str = "",
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> ScoredSet:
    """Score a task's sequences with one fine-tuned model and write the scores, the head choice and the plots."""
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    rows = read_sequences(split_files, settings.max_sequences, settings.seed)
    sequences = rows["sequence"].tolist()
    labels = rows["label"].to_numpy(np.int64)
    log.info("%s: scoring %d sequences (%s) with %s", task, len(rows),
             ", ".join(f"{int((labels == c).sum())} of class {c}" for c in np.unique(labels)), model_dir)  # fmt: skip
    selection = choose_heads(model, k, dev_file, settings, torch_device, autocast)
    write_selection(selection, selection_out)
    probs, _ = predict_sequences(model, sequences, k, batch_size=settings.batch_size, device=torch_device,
                                 autocast=autocast)  # fmt: skip
    attention = attention_scores(model, sequences, k, layer=selection.layer, heads=selection.heads,
                                 batch_size=settings.batch_size, device=torch_device, autocast=autocast,
                                 progress=True)  # fmt: skip
    scored = ScoredSet(sequences, labels, positive_probability(probs).astype(np.float32), attention,
                       rows["name"].tolist(), rows["chrom"].tolist(), rows["start"].to_numpy(),
                       rows["strand"].tolist(), rows["split"].tolist(), layer=selection.layer,
                       heads=selection.heads)  # fmt: skip
    top = attribution_rows(labels, settings.attribution_sequences, settings.seed)
    if top.size:
        result = integrated_gradients(model, [sequences[i] for i in top], k, steps=settings.attribution_steps,
                                      baseline=settings.attribution_baseline,
                                      baselines=settings.attribution_baselines, seed=settings.seed,
                                      batch_size=max(1, settings.batch_size // 4), device=torch_device,
                                      progress=True, hypothetical=True)  # fmt: skip
        scored.attribution, scored.attribution_rows = result.scores, top
        scored.hypothetical = np.concatenate(result.hypothetical)
    scored.save(scores_out)
    write_agreement(scored, top, scored.attribution if top.size else None, agreement_out)
    label = f"{task}: " if task else ""
    plot_heatmap(scored, heatmap_out, top=settings.heatmap_sequences,
                 title=f"{label}attention of the top-scoring positives ({selection.describe()})")  # fmt: skip
    plot_profile(scored, profile_out, attribution=scored.attribution if top.size else None, attribution_rows=top,
                 title=f"{label}attention around the window centre")  # fmt: skip
    return scored


def write_agreement(scored: ScoredSet, rows: np.ndarray, attribution: BaseScores | None, path: PathLike) -> None:
    """Per top positive: probability, attention and |IG| peak positions, and their rank correlation."""
    with atomic_write(path) as handle:
        handle.write("name\tprobability\tattention_peak\tattribution_peak\tspearman\n")
        if attribution is None:
            return
        subset = scored.subset(rows)
        rho = agreement(subset.attention, attribution)
        for i in range(len(subset)):
            handle.write(f"{subset.names[i]}\t{subset.probability[i]:.4f}\t{int(np.argmax(subset.attention[i]))}\t"
                         f"{int(np.argmax(np.abs(attribution[i])))}\t{rho[i]:.4f}\n")  # fmt: skip
    if len(rows):
        log.info("attention vs |integrated gradients| over %d positives: median Spearman %.3f",
                 len(rows), float(np.nanmedian(rho)))  # fmt: skip
