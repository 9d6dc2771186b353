"""Interpretation of one's own sequences (FASTA files), with the interpretation stage's own steps.

* :func:`attention_file`: DNABERT's per-nucleotide attention of every record from one
  fixed layer and heads (:func:`dnabert.interpret.attention.attention_scores`), saved as
  the stage's ``scores.npz`` (:class:`~dnabert.interpret.scores.ScoredSet`), optionally
  as a long TSV (``id position base attention``) and a heatmap. Any model: a fine-tuned
  classifier (its probability of not being class 0 is stored too) or a masked LM.
* :func:`motifs_file`: positives and negatives FASTA and a fine-tuned model through the
  steps the workflow's ``interpret_attention`` and ``interpret_motifs`` rules run:
  :func:`dnabert.interpret.scoring.score_task` (layer and heads, attention, integrated
  gradients into ``scores.npz``), then :func:`dnabert.interpret.stage.motifs_task` for
  each engine (motifs, logos, TOMTOM against JASPAR). A FASTA pair has no dev split:
  an ``auto`` layer or heads is chosen on the same sequences (a fixed layer and heads
  are used as given). The files are laid out as the workflow's
  ``results/interpret/{task}/seed{n}/`` (:func:`motif_files`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dnabert.interpret.attention import attention_scores, plot_heatmap
from dnabert.interpret.scores import ScoredSet
from dnabert.io import InputError, PathLike, atomic_write
from dnabert.lm.inference import is_classifier, load_for_inference, predict_sequences
from dnabert.lm.predict import read_fasta_records

log = logging.getLogger(__name__)

#: The files the scoring step of :func:`motifs_file` writes under its output folder, by key.
SCORING_FILES = {
    "sequences": "sequences.tsv", "scores": "scores.npz", "selection": "attention/selection.tsv",
    "agreement": "attention/agreement.tsv", "heatmap": "attention/heatmap.png", "profile": "attention/profile.png",
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
    used_heads = tuple(range(model.config.num_attention_heads)) if heads is None else tuple(heads)
    scored = ScoredSet(sequences, np.ones(len(records), np.int64), probability, attention, [r.id for r in records],
                       layer=layer % model.config.num_hidden_layers, heads=used_heads)  # fmt: skip
    scored.save(out)
    if tsv_out is not None:
        with atomic_write(tsv_out) as handle:
            handle.write("id\tposition\tbase\tattention\n")
            for record, values in zip(records, attention.to_list()):
                handle.writelines(f"{record.id}\t{i}\t{b}\t{v:.6g}\n" for i, (b, v) in enumerate(zip(record.sequence,
                                                                                                   values)))  # fmt: skip
    if heatmap_out is not None:
        plot_heatmap(scored, heatmap_out, title=f"attention of {Path(fasta).name} (layer {scored.layer})")
    log.info("attention of %d sequences (layer %d) from %s", len(records), scored.layer, model_dir)
    return scored


def write_sequence_table(positives: PathLike, negatives: PathLike, out: PathLike) -> tuple[int, int]:
    """``sequence label name`` rows: the positives' records (label 1), then the negatives' (label 0)."""
    counts = []
    with atomic_write(out) as handle:
        handle.write("sequence\tlabel\tname\n")
        for path, label in ((positives, 1), (negatives, 0)):
            records = list(read_fasta_records(path))
            if not records:
                raise InputError(path, "no FASTA records")
            handle.writelines(f"{r.sequence}\t{label}\t{r.id}\n" for r in records)
            counts.append(len(records))
    return counts[0], counts[1]


def motif_files(out_dir: PathLike, engines: Sequence[str]) -> dict[str, Path]:
    """Every file :func:`motifs_file` writes, by key: :data:`SCORING_FILES`, then ``<engine>/<file>`` per engine."""
    from dnabert.interpret.stage import MotifOutputs

    out_dir = Path(out_dir)
    files = {key: out_dir / relative for key, relative in SCORING_FILES.items()}
    for engine in engines:
        outputs = MotifOutputs.under(out_dir / engine)
        files.update({f"{engine}/{key}": Path(path) for key, path in vars(outputs).items()})
    return files


def motifs_file(
    model_dir: PathLike,
    positives: PathLike,
    negatives: PathLike,
    out_dir: PathLike,
    settings,
    *,
    engines: Sequence[str] = ("attention",),
    name: str = "",
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> dict[str, Path]:
    """Scores, then each engine's motifs and TOMTOM, for positives against negatives (``settings``: InterpretSettings).

    The layer and heads (``settings.heads``) are chosen on the same sequences where
    ``auto``. Returns the written files by key (:func:`motif_files`).
    """
    from dnabert.interpret.scoring import score_task
    from dnabert.interpret.settings import ENGINES
    from dnabert.interpret.stage import MotifOutputs, motifs_task

    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise InputError(None, f"unknown engine(s) {', '.join(unknown) or 'none'}; engines are {', '.join(ENGINES)}",
                         field="engine")  # fmt: skip
    if "modisco" in engines and settings.attribution_sequences < 1:
        raise InputError(None, "the modisco engine needs integrated gradients of at least one positive",
                         field="attribution_sequences")  # fmt: skip
    files = motif_files(out_dir, engines)
    n_pos, n_neg = write_sequence_table(positives, negatives, files["sequences"])
    log.info("%d positives (%s) against %d negatives (%s)", n_pos, positives, n_neg, negatives)
    score_task(model_dir, {"fasta": files["sequences"]}, settings, dev_file=files["sequences"],
               scores_out=files["scores"], selection_out=files["selection"], agreement_out=files["agreement"],
               heatmap_out=files["heatmap"], profile_out=files["profile"], task=name, device=device,
               precision=precision, threads=threads)  # fmt: skip
    for engine in engines:
        motifs_task(engine, files["scores"], settings, MotifOutputs.under(Path(out_dir) / engine),
                    title=f"{name}, {engine}" if name else engine, threads=threads)  # fmt: skip
    return files
