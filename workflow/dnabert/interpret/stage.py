"""Steps 2 and 3 of the interpretation stage, as the rules run them: motifs from one engine, then TOMTOM.

Step 1 (:mod:`dnabert.interpret.scoring`) wrote a model's ``scores.npz``. Here, for
one engine (:data:`~dnabert.interpret.settings.ENGINES`):

* ``attention``: DNABERT's motif discovery on the positives' attention (from the
  layer and heads chosen on dev) against the negatives
  (:mod:`dnabert.interpret.motifs`);
* ``modisco``: TF-MoDISco (modisco-lite) on the integrated gradients of the top
  positives and their hypothetical contributions (:mod:`dnabert.interpret.modisco`);

then :func:`compare_motifs`: TOMTOM of the motifs against JASPAR (``tomtom.tsv``),
each logo beside its best match (``logos.png``) and the report's motif table
(``motifs.html``). Both engines write the same files (``motifs.meme``,
``motifs.tsv``, ``instances.tsv``/``.bed``, ``logos/``). Nothing here imports torch:
modisco-lite compiles its numba kernels in forked children only when no other
threads run, and the step starts faster.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dnabert.interpret.modisco import ModiscoResult, ModiscoSettings, run_modisco
from dnabert.interpret.motifs.discovery import discover
from dnabert.interpret.motifs.jaspar import jaspar_motifs, tomtom_matches, write_tomtom
from dnabert.interpret.motifs.logos import plot_logos, plot_matches
from dnabert.interpret.motifs.meme import read_meme, write_instances, write_meme, write_summary
from dnabert.interpret.motifs.model import MotifMatrix, MotifResult, MotifSettings
from dnabert.interpret.scores import ScoredSet
from dnabert.interpret.settings import ENGINES, InterpretSettings
from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotifOutputs:
    """The files one engine writes for one model (see the rules' ``interpret_files``)."""

    meme: PathLike
    summary: PathLike
    instances: PathLike
    bed: PathLike
    logos: PathLike
    tomtom: PathLike
    matches: PathLike
    page: PathLike

    @classmethod
    def under(cls, folder: PathLike) -> MotifOutputs:
        folder = Path(folder)
        return cls(folder / "motifs.meme", folder / "motifs.tsv", folder / "instances.tsv", folder / "instances.bed",
                   folder / "logos", folder / "tomtom.tsv", folder / "logos.png", folder / "motifs.html")  # fmt: skip


def positive_and_negative(scored: ScoredSet) -> tuple[list[str], list[str], list[np.ndarray], np.ndarray]:
    """Positive sequences, negative sequences, the positives' attention, and the positives' rows."""
    negatives = np.flatnonzero(scored.labels == 0)
    positives = np.flatnonzero(scored.labels > 0)
    return ([scored.sequences[i] for i in positives], [scored.sequences[i] for i in negatives],
            [scored.attention[int(i)] for i in positives], positives)  # fmt: skip


def discover_attention(scored: ScoredSet, settings: InterpretSettings) -> tuple[MotifResult, np.ndarray]:
    """DNABERT's motif discovery on the positives' attention against the negatives; also the positives' rows."""
    pos_seqs, neg_seqs, pos_scores, rows = positive_and_negative(scored)
    log.info("motifs from DNABERT's attention (layer %d, heads %s)", scored.layer, ",".join(map(str, scored.heads)))
    result = discover(pos_seqs, neg_seqs, pos_scores, MotifSettings(**settings.motifs))
    log.info("motif discovery: %s", ", ".join(f"{key} {value}" for key, value in result.stats.items()))
    return result, rows


def discover_modisco(scored: ScoredSet, settings: InterpretSettings) -> tuple[ModiscoResult, np.ndarray]:
    """TF-MoDISco on the integrated gradients of the scored positives; also their rows."""
    rows = np.asarray(scored.attribution_rows, dtype=np.int64)
    if rows.size and not len(scored.hypothetical):
        raise InputError(None, "the scores hold no hypothetical contributions: rerun the scoring step",
                         field="hypothetical")  # fmt: skip
    sequences = [scored.sequences[i] for i in rows]
    hypothetical = [scored.hypothetical_of(i) for i in range(rows.size)]
    log.info("motifs from TF-MoDISco on the integrated gradients of %d positives", rows.size)
    result = run_modisco(sequences, hypothetical, ModiscoSettings.from_config(settings.modisco), seed=settings.seed)
    return result, rows


def _coordinates(scored: ScoredSet, rows: np.ndarray) -> pd.DataFrame | None:
    lengths = np.array([len(scored.sequences[i]) for i in rows], dtype=np.int64)
    coords = pd.DataFrame({"chrom": [scored.chrom[i] for i in rows], "start": scored.start[rows],
                           "end": scored.start[rows] + lengths, "strand": [scored.strand[i] for i in rows]})  # fmt: skip
    located = bool(len(coords)) and bool((coords["chrom"] != "").all() and (coords["start"] >= 0).all())
    return coords if located else None


def find_motifs(engine: str, scores: PathLike, settings: InterpretSettings, outputs: MotifOutputs
                ) -> list[MotifMatrix]:  # fmt: skip
    """One engine's motifs from a scores file: ``motifs.meme``, ``motifs.tsv``, instances and ``logos/``."""
    if engine not in ENGINES:
        raise InputError(None, f"unknown engine {engine!r}; engines are {', '.join(ENGINES)}", field="interpret.engines")
    scored = ScoredSet.load(scores)
    if engine == "attention":
        result, rows = discover_attention(scored, settings)
        write_meme(result.motifs, outputs.meme, background=result.background)
        write_summary(result.motifs, outputs.summary)
        motifs = [MotifMatrix(m.id, m.seed, m.probs, m.n_instances) for m in result.motifs]
    else:
        result, rows = discover_modisco(scored, settings)
        write_meme(result.motifs, outputs.meme)
        with atomic_write(outputs.summary) as handle:
            result.summary.to_csv(handle, sep="\t", index=False, float_format="%.6g")
        motifs = result.motifs
    coords = _coordinates(scored, rows)
    write_instances(result, outputs.instances, names=[scored.names[i] for i in rows],
                    bed_path=outputs.bed if coords is not None else None, coords=coords)  # fmt: skip
    if coords is None:
        log.info("positives carry no genomic coordinates (a table task): %s is empty", outputs.bed)
        with atomic_write(outputs.bed):
            pass
    Path(outputs.logos).mkdir(parents=True, exist_ok=True)
    plot_logos(motifs, outputs.logos)
    return motifs


def compare_motifs(motifs: list[MotifMatrix] | None, settings: InterpretSettings, outputs: MotifOutputs, *,
                   engine: str = "attention", title: str = "", top: int = 6, threads: int | None = None
                   ) -> pd.DataFrame:  # fmt: skip
    """TOMTOM of the motifs (default: read from ``outputs.meme``) against JASPAR, the match figure and the motif page."""
    if motifs is None:
        motifs = [MotifMatrix(motif_id, "", probs) for motif_id, probs in read_meme(outputs.meme).items()]
    targets = jaspar_motifs(**settings.jaspar)
    table = tomtom_matches(motifs, targets, n_best=5, threads=threads)
    write_tomtom(table, outputs.tomtom)
    best = table[table["rank"] == 1] if len(table) else table
    for row in best.head(top).itertuples():
        log.info("%s (%s): best match %s %s, q = %.3g", row.query, row.query_consensus, row.target_id,
                 row.target_name, row.qvalue)  # fmt: skip
    plot_matches(motifs[:top], table, targets, outputs.matches, qvalue=settings.qvalue,
                 title=f"{title}: motifs and their best JASPAR match" if title else "")  # fmt: skip
    write_motif_page(outputs.summary, best, settings, outputs.page, title, engine)
    return table


def motifs_task(engine: str, scores: PathLike, settings: InterpretSettings, outputs: MotifOutputs, *,
                title: str = "", threads: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Steps 2 and 3 for one engine: its motifs, then TOMTOM against JASPAR; returns the TOMTOM table."""
    motifs = find_motifs(engine, scores, settings, outputs)
    return compare_motifs(motifs, settings, outputs, engine=engine, title=title, threads=threads)


def write_motif_page(summary: PathLike, best: pd.DataFrame, settings: InterpretSettings, path: PathLike,
                     title: str = "", engine: str = "attention") -> None:  # fmt: skip
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
    write_page(path, "interpret/motifs.html.j2", title=title, engine=engine, n_motifs=len(table),
               release=settings.jaspar.get("release", ""), qvalue=settings.qvalue, table=cells_table(cells))  # fmt: skip
