"""Interpretation of one's own sequences (FASTA files), with the interpretation stage's own steps.

* :func:`attention_file`: DNABERT's per-nucleotide attention of every record
  (:func:`dnabert.interpret.attention.attention_scores`), saved as the stage's
  ``scores.npz`` (:class:`~dnabert.interpret.attention.ScoredSet`), optionally as a long
  TSV (``id position base attention``) and a heatmap. Any model: a fine-tuned
  classifier (its probability of not being class 0 is stored too) or a masked LM.
* :func:`motifs_file`: positives and negatives FASTA and a fine-tuned model through
  :func:`dnabert.interpret.stage.score_task`, :func:`~dnabert.interpret.stage.discover_task`
  and :func:`~dnabert.interpret.stage.compare_task`, exactly as the workflow's
  ``interpret_attention`` and ``interpret_motifs`` rules run them:
  attention, motifs (MEME, TSV, instances, logos) and TOMTOM against JASPAR.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from dnabert.interpret.attention import ScoredSet, attention_scores, plot_heatmap
from dnabert.io import InputError, PathLike, atomic_write
from dnabert.lm.inference import is_classifier, load_for_inference, predict_sequences
from dnabert.lm.predict import read_fasta_records

log = logging.getLogger(__name__)

#: The files :func:`motifs_file` writes under its output folder, by key.
MOTIF_FILES = {
    "sequences": "sequences.tsv", "scores": "attention/scores.npz", "agreement": "attention/agreement.tsv",
    "heatmap": "attention/heatmap.png", "profile": "attention/profile.png", "meme": "motifs.meme",
    "summary": "motifs.tsv", "instances": "instances.tsv", "bed": "instances.bed", "logos": "logos",
    "tomtom": "tomtom.tsv", "matches": "logos.png", "page": "motifs.html",
}  # fmt: skip


def attention_file(
    model_dir: PathLike,
    fasta: PathLike,
    out: PathLike,
    *,
    tsv_out: PathLike | None = None,
    heatmap_out: PathLike | None = None,
    layer: int = -1,
    heads: tuple[int, ...] | None = None,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    progress: bool = False,
) -> ScoredSet:
    """Per-nucleotide attention of a FASTA's records, written as ``scores.npz`` (and a TSV and heatmap if asked)."""
    model, k, torch_device, autocast = load_for_inference(model_dir, device, precision, threads, any_model=True)
    records = list(read_fasta_records(fasta))
    sequences = [r.sequence for r in records]
    try:
        attention = attention_scores(model, sequences, k, layer=layer, heads=heads, batch_size=batch_size,
                                     device=torch_device, autocast=autocast, progress=progress)  # fmt: skip
    except ValueError as err:  # layer or heads out of range
        raise InputError(None, str(err), field="layer/heads") from None
    if is_classifier(model_dir):
        probs, _ = predict_sequences(model, sequences, k, batch_size=batch_size, device=torch_device,
                                     autocast=autocast)  # fmt: skip
        probability = (1.0 - probs[:, 0]).astype(np.float32)
    else:
        probability = np.full(len(records), np.nan, np.float32)
    scored = ScoredSet(sequences, np.ones(len(records), np.int64), probability, attention, [r.id for r in records])
    scored.save(out)
    if tsv_out is not None:
        with atomic_write(tsv_out) as handle:
            handle.write("id\tposition\tbase\tattention\n")
            for record, values in zip(records, attention.to_list()):
                handle.writelines(f"{record.id}\t{i}\t{b}\t{v:.6g}\n" for i, (b, v) in enumerate(zip(record.sequence,
                                                                                                   values)))  # fmt: skip
    if heatmap_out is not None:
        plot_heatmap(scored, heatmap_out, title=f"attention of {Path(fasta).name} (layer {layer})")
    log.info("attention of %d sequences (layer %d) from %s", len(records), layer, model_dir)
    return scored


def write_sequence_table(positives: PathLike, negatives: PathLike, out: PathLike) -> tuple[int, int]:
    """``sequence label name`` rows: the positives' records (label 1), then the negatives' (label 0)."""
    counts = []
    with atomic_write(out) as handle:
        handle.write("sequence\tlabel\tname\n")
        for path, label in ((positives, 1), (negatives, 0)):
            records = list(read_fasta_records(path))
            handle.writelines(f"{r.sequence}\t{label}\t{r.id}\n" for r in records)
            counts.append(len(records))
    return counts[0], counts[1]


def motifs_file(
    model_dir: PathLike,
    positives: PathLike,
    negatives: PathLike,
    out_dir: PathLike,
    settings,
    *,
    name: str = "",
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> dict[str, Path]:
    """Attention, motifs and TOMTOM for positives against negatives (``settings``: an ``InterpretSettings``).

    Returns the written files by key (:data:`MOTIF_FILES`, under ``out_dir``).
    """
    from dnabert.interpret.stage import compare_task, discover_task, score_task

    files = {key: Path(out_dir) / relative for key, relative in MOTIF_FILES.items()}
    n_pos, n_neg = write_sequence_table(positives, negatives, files["sequences"])
    log.info("%d positives (%s) against %d negatives (%s)", n_pos, positives, n_neg, negatives)
    score_task(model_dir, {"fasta": files["sequences"]}, settings, scores_out=files["scores"],
               agreement_out=files["agreement"], heatmap_out=files["heatmap"], profile_out=files["profile"], task=name,
               device=device, precision=precision, threads=threads)  # fmt: skip
    discover_task(files["scores"], settings, meme_out=files["meme"], summary_out=files["summary"],
                  instances_out=files["instances"], bed_out=files["bed"], logos_out=files["logos"])  # fmt: skip
    compare_task(files["meme"], settings, tomtom_out=files["tomtom"], figure_out=files["matches"],
                 summary=files["summary"], page_out=files["page"], task=name, threads=threads)  # fmt: skip
    return files
