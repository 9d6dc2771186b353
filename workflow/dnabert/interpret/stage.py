"""The interpretation stage of one task, step by step, as the workflow's rules run it.

1. :func:`score_task`: a seeded sample of a task's sequences (positives and negatives of
   the chosen splits) scored by the fine-tuned model: class probability, DNABERT's
   per-nucleotide attention (``attention/scores.npz``), integrated gradients of the
   top positives as a cross-check (``attention/agreement.tsv``), and the attention
   heatmap and profile plots.
2. :func:`discover_task`: DNABERT's motif discovery on the positives' attention
   against the negatives (:mod:`dnabert.interpret.motifs`): ``motifs.meme``, ``motifs.tsv``,
   ``instances.tsv`` / ``.bed`` and ``logos/``.
3. :func:`compare_task`: TOMTOM of the discovered motifs against JASPAR
   (``tomtom.tsv``) and each logo beside its best match (``logos.png``).
4. :func:`recovery`: for a simulated genome, whether every planted motif was found.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dnabert.interpret.attention import BaseScores, ScoredSet, agreement, attention_scores, integrated_gradients, plot_heatmap, plot_profile
from dnabert.lm.inference import load_for_inference, predict_sequences
from dnabert.io import InputError, PathLike, atomic_write
from dnabert.interpret.motifs.discovery import discover
from dnabert.interpret.motifs.jaspar import jaspar_motifs, recovery_table, tomtom_matches, write_tomtom
from dnabert.interpret.motifs.logos import plot_logos
from dnabert.interpret.motifs.meme import read_meme, write_instances, write_meme, write_summary
from dnabert.interpret.motifs.model import MotifMatrix, MotifResult, MotifSettings

log = logging.getLogger(__name__)

#: Per-base scores motifs can be discovered from: DNABERT's attention, or |integrated gradients|.
MOTIF_SCORES = ("attention", "attribution")


@dataclass(frozen=True)
class InterpretSettings:
    """The ``interpret:`` section of the config (see config/schema/config.schema.yaml)."""

    splits: tuple[str, ...] = ("train", "dev", "test")
    max_sequences: int = 10000
    batch_size: int = 64
    layer: int = -1
    heads: tuple[int, ...] | None = None
    heatmap_sequences: int = 20
    attribution_sequences: int = 200
    attribution_steps: int = 32
    motifs: Mapping[str, Any] = field(default_factory=dict)
    jaspar: Mapping[str, Any] = field(default_factory=dict)
    qvalue: float = 0.05
    motif_scores: str = "attention"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.motif_scores not in MOTIF_SCORES:
            raise InputError(None, f"must be one of {', '.join(MOTIF_SCORES)}, got {self.motif_scores!r}",
                             field="interpret.motif_scores")  # fmt: skip

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int = 0) -> InterpretSettings:
        attention = section.get("attention", {})
        attribution = section.get("attribution", {})
        heads = attention.get("heads")
        return cls(
            splits=tuple(section.get("splits", cls.splits)),
            max_sequences=int(section.get("max_sequences", cls.max_sequences)),
            batch_size=int(section.get("batch_size", cls.batch_size)),
            layer=int(attention.get("layer", cls.layer)),
            heads=tuple(heads) if heads is not None else None,
            heatmap_sequences=int(attention.get("heatmap_sequences", cls.heatmap_sequences)),
            attribution_sequences=int(attribution.get("sequences", cls.attribution_sequences)),
            attribution_steps=int(attribution.get("steps", cls.attribution_steps)),
            motifs=dict(section.get("motifs", {})),
            jaspar=dict(section.get("jaspar", {})),
            qvalue=float(section.get("qvalue", cls.qvalue)),
            motif_scores=str(section.get("motif_scores", cls.motif_scores)),
            seed=seed,
        )


# --------------------------------------------------------------------------- 1. scores


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


def score_task(
    model_dir: PathLike,
    split_files: Mapping[str, PathLike],
    settings: InterpretSettings,
    *,
    scores_out: PathLike,
    agreement_out: PathLike,
    heatmap_out: PathLike,
    profile_out: PathLike,
    task: str = "",
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> ScoredSet:
    """Score a task's sequences with its fine-tuned model and write the attention outputs."""
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads)
    rows = read_sequences(split_files, settings.max_sequences, settings.seed)
    sequences = rows["sequence"].tolist()
    labels = rows["label"].to_numpy(np.int64)
    log.info("%s: scoring %d sequences (%s) with %s", task, len(rows),
             ", ".join(f"{int((labels == c).sum())} of class {c}" for c in np.unique(labels)), model_dir)  # fmt: skip
    probs, _ = predict_sequences(model, sequences, k, batch_size=settings.batch_size, device=torch_device,
                                 autocast=autocast)  # fmt: skip
    attention = attention_scores(model, sequences, k, layer=settings.layer, heads=settings.heads,
                                 batch_size=settings.batch_size, device=torch_device, autocast=autocast,
                                 progress=True)  # fmt: skip
    scored = ScoredSet(sequences, labels, positive_probability(probs).astype(np.float32), attention,
                       rows["name"].tolist(), rows["chrom"].tolist(), rows["start"].to_numpy(),
                       rows["strand"].tolist(), rows["split"].tolist())  # fmt: skip
    positives = np.flatnonzero(labels > 0)
    ranked = positives[np.argsort(-scored.probability[positives], kind="stable")]
    # Integrated gradients of the top positives (of every positive when motifs come from them).
    rows = ranked if settings.motif_scores == "attribution" else ranked[: settings.attribution_sequences]
    if rows.size:
        scored.attribution = integrated_gradients(model, [sequences[i] for i in rows], k,
                                                  steps=settings.attribution_steps,
                                                  batch_size=max(1, settings.batch_size // 4), device=torch_device,
                                                  progress=True)  # fmt: skip
        scored.attribution_rows = rows
    scored.save(scores_out)
    top = rows[: settings.attribution_sequences]
    attribution = BaseScores.from_list([scored.attribution[i] for i in range(top.size)]) if top.size else None
    write_agreement(scored, top, attribution, agreement_out)
    label = f"{task}: " if task else ""
    plot_heatmap(scored, heatmap_out, top=settings.heatmap_sequences,
                 title=f"{label}attention of the top-scoring positives (layer {settings.layer})")  # fmt: skip
    plot_profile(scored, profile_out, attribution=attribution, attribution_rows=top,
                 title=f"{label}attention around the window centre")  # fmt: skip
    return scored


def write_agreement(scored: ScoredSet, rows: np.ndarray, attribution, path: PathLike) -> None:
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


def positive_and_negative(scored: ScoredSet, scores: str = "attention"
                          ) -> tuple[list[str], list[str], list[np.ndarray], np.ndarray]:  # fmt: skip
    """Positive sequences, negative sequences, the positives' per-base scores, and the positives' rows.

    ``scores``: ``attention``, or ``attribution`` (|integrated gradients|; positives without them are left out).
    """
    negatives = np.flatnonzero(scored.labels == 0)
    if scores == "attribution":
        positives = np.asarray(scored.attribution_rows, dtype=np.int64)
        values = [np.abs(scored.attribution[i]) for i in range(positives.size)]
        if positives.size < int((scored.labels > 0).sum()):
            log.warning("integrated gradients cover %d of %d positives; motifs come from those",
                        positives.size, int((scored.labels > 0).sum()))  # fmt: skip
    else:
        positives = np.flatnonzero(scored.labels > 0)
        values = [scored.attention[int(i)] for i in positives]
    return ([scored.sequences[i] for i in positives], [scored.sequences[i] for i in negatives], values,
            positives)  # fmt: skip


# --------------------------------------------------------------------------- 2. motifs


def discover_task(
    scores: PathLike,
    settings: InterpretSettings,
    *,
    meme_out: PathLike,
    summary_out: PathLike,
    instances_out: PathLike,
    bed_out: PathLike,
    logos_out: PathLike,
) -> MotifResult:
    """DNABERT's motif discovery on a scored set: positives' attention against the negatives."""
    scored = ScoredSet.load(scores)
    pos_seqs, neg_seqs, pos_scores, rows = positive_and_negative(scored, settings.motif_scores)
    log.info("motifs from %s", "DNABERT's attention" if settings.motif_scores == "attention"
             else "|integrated gradients|")  # fmt: skip
    result = discover(pos_seqs, neg_seqs, pos_scores, MotifSettings(**settings.motifs))
    log.info("motif discovery: %s", ", ".join(f"{key} {value}" for key, value in result.stats.items()))
    write_meme(result.motifs, meme_out, background=result.background)
    write_summary(result.motifs, summary_out)
    names = [scored.names[i] for i in rows]
    coords = pd.DataFrame({"chrom": [scored.chrom[i] for i in rows], "start": scored.start[rows],
                           "end": scored.start[rows] + np.array([len(s) for s in pos_seqs], dtype=np.int64),
                           "strand": [scored.strand[i] for i in rows]})  # fmt: skip
    located = bool(len(coords)) and bool((coords["chrom"] != "").all() and (coords["start"] >= 0).all())
    write_instances(result, instances_out, names=names, bed_path=bed_out if located else None,
                    coords=coords if located else None)  # fmt: skip
    if not located:
        log.info("positives carry no genomic coordinates (a table task): %s is empty", bed_out)
        with atomic_write(bed_out):
            pass
    Path(logos_out).mkdir(parents=True, exist_ok=True)
    plot_logos(result.motifs, logos_out)
    return result


# --------------------------------------------------------------------------- 3. JASPAR


def compare_task(meme: PathLike, settings: InterpretSettings, *, tomtom_out: PathLike, figure_out: PathLike,
                 summary: PathLike | None = None, page_out: PathLike | None = None, task: str = "", top: int = 6,
                 threads: int | None = None) -> pd.DataFrame:  # fmt: skip
    """TOMTOM of a task's motifs against JASPAR; one figure of the top motifs beside their best matches.

    With ``summary`` (``motifs.tsv``) and ``page_out``, also an HTML table of every motif
    with its best match, for the report.
    """
    motifs = [MotifMatrix(motif_id, "", probs) for motif_id, probs in read_meme(meme).items()]
    targets = jaspar_motifs(**settings.jaspar)
    table = tomtom_matches(motifs, targets, n_best=5, threads=threads)
    write_tomtom(table, tomtom_out)
    best = table[table["rank"] == 1] if len(table) else table
    for row in best.head(top).itertuples():
        log.info("%s (%s): best match %s %s, q = %.3g", row.query, row.query_consensus, row.target_id,
                 row.target_name, row.qvalue)  # fmt: skip
    plot_matches(motifs[:top], table, targets, figure_out, qvalue=settings.qvalue,
                 title=f"{task}: discovered motifs and their best JASPAR match" if task else "")  # fmt: skip
    if summary is not None and page_out is not None:
        write_motif_page(summary, best, settings, page_out, task)
    return table


def write_motif_page(summary: PathLike, best: pd.DataFrame, settings: InterpretSettings, path: PathLike,
                     task: str = "") -> None:  # fmt: skip
    """An HTML table for the report: every discovered motif with its statistics and best JASPAR match.

    The page shows the table's TSV text (floats to 3 significant digits), read back as
    :func:`dnabert.html.cells_table`, like every TSV table of the report.
    """
    from dnabert.html import cells_table, write_page

    motifs = pd.read_csv(summary, sep="\t", dtype={"motif": str, "seed": str, "consensus": str})
    matches = best.astype({"query": str}).rename(columns={"query": "motif", "target_id": "best_match", "target_name": "factor",
                                   "qvalue": "match_qvalue"})[["motif", "best_match", "factor", "match_qvalue"]]  # fmt: skip
    table = motifs.merge(matches, on="motif", how="left")
    table["significant"] = table["match_qvalue"] < settings.qvalue
    text = table.drop(columns=["seed", "merged"], errors="ignore").to_csv(sep="\t", index=False, float_format="%.3g")
    cells = list(csv.reader(io.StringIO(text), delimiter="\t"))
    write_page(path, "interpret/motifs.html.j2", task=task, scores=settings.motif_scores, n_motifs=len(table),
               release=settings.jaspar.get("release", ""), qvalue=settings.qvalue, table=cells_table(cells))  # fmt: skip


def plot_matches(motifs: Sequence[MotifMatrix], tomtom: pd.DataFrame, targets: Sequence[MotifMatrix],
                 path: PathLike, *, qvalue: float = 0.05, title: str = "") -> None:  # fmt: skip
    """One row per motif: its logo (left) beside its best JASPAR match's (right, oriented as matched)."""
    from dnabert.interpret.motifs.logos import draw_logo
    from dnabert.interpret.motifs.model import reverse_complement_matrix
    from dnabert.plots import figure, save

    by_id = {t.id: t for t in targets}
    best = tomtom[tomtom["rank"] == 1].set_index("query") if len(tomtom) else pd.DataFrame()
    from matplotlib.ticker import MaxNLocator

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


# --------------------------------------------------------------------------- 4. planted motifs


def recovery(expected: Mapping[str, tuple[str, str]], tomtom_files: Mapping[str, PathLike], qvalue: float,
             out: PathLike, page_out: PathLike | None = None) -> pd.DataFrame:  # fmt: skip
    """For each task with a planted motif (task -> (factor, JASPAR id)), whether TOMTOM found it (q < ``qvalue``).

    Writes ``out`` (TSV) and, with ``page_out``, the same table as an HTML page for the report.
    """
    frames = []
    for task, (factor, jaspar_id) in expected.items():
        table = pd.read_csv(tomtom_files[task], sep="\t")
        found = recovery_table(table, {factor: jaspar_id}, qvalue=qvalue)
        found.insert(0, "task", task)
        frames.append(found)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["task"])
    with atomic_write(out) as handle:
        result.to_csv(handle, sep="\t", index=False, float_format="%.3g")
    if page_out is not None:
        from dnabert.html import tsv_table, write_page

        intro = ("Every motif planted at the simulated ChIP-seq summits, and whether a motif discovered from the "
                 f"fine-tuned model matches it in TOMTOM with q below {qvalue}.")  # fmt: skip
        write_page(page_out, "tsv.html.j2", title="Planted motifs recovered", intro=intro, table=tsv_table(out))
    for row in result.itertuples():
        log.info("%s: planted %s (%s) %s (best q = %.3g, motif %s)", row.task, row.name, row.jaspar_id,
                 "recovered" if row.recovered else "NOT recovered", row.best_qvalue, row.motif)  # fmt: skip
    return result
