"""Step 4 of the interpretation stage: were the planted motifs recovered, per fine-tuning seed and engine?

On a simulated genome every peaks task carries a known JASPAR matrix at its summits.
:func:`recovery` reads the TOMTOM table of every (task, seed, engine) and writes
``recovery.tsv``, one row per planted motif x seed x engine: ``recovered`` (some
motif of that engine matches the matrix, any version of its id, with q below
``interpret.qvalue``), the best q- and p-value, the motif and matrix that gave them,
the match's rank among that motif's matches, and how many motifs the engine found.
The report page shows the engines side by side, one row per planted motif x seed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.jaspar import recovery_table
from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)

COLUMNS = ["task", "seed", "engine", "name", "jaspar_id", "recovered", "best_qvalue", "best_pvalue", "motif",
           "matched_id", "rank", "motifs"]  # fmt: skip


def recovery(expected: Mapping[str, tuple[str, str]], tomtom_files: Mapping[tuple[str, int, str], PathLike],
             qvalue: float, out: PathLike, page_out: PathLike | None = None) -> pd.DataFrame:  # fmt: skip
    """Planted-motif recovery: ``expected`` task -> (factor, JASPAR id); ``tomtom_files`` (task, seed, engine) -> TSV."""
    frames = []
    for (task, seed, engine), path in sorted(tomtom_files.items()):
        if task not in expected:
            raise InputError(None, f"no planted motif known for task {task!r}", field="tasks")
        factor, jaspar_id = expected[task]
        table = pd.read_csv(path, sep="\t")
        found = recovery_table(table, {factor: jaspar_id}, qvalue=qvalue)
        found.insert(0, "engine", engine)
        found.insert(0, "seed", int(seed))
        found.insert(0, "task", task)
        found["motifs"] = int(table["query"].nunique()) if len(table) else 0
        frames.append(found)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    result = result[COLUMNS]
    with atomic_write(out) as handle:
        result.to_csv(handle, sep="\t", index=False, float_format="%.3g")
    if page_out is not None:
        write_recovery_page(result, qvalue, page_out)
    for row in result.itertuples():
        log.info("%s seed %s, %s: planted %s (%s) %s (best q = %.3g, motif %s)", row.task, row.seed, row.engine,
                 row.name, row.jaspar_id, "recovered" if row.recovered else "NOT recovered", row.best_qvalue,
                 row.motif or "-")  # fmt: skip
    return result


def side_by_side(result: pd.DataFrame) -> pd.DataFrame:
    """One row per planted motif x seed, each engine's verdict, best q-value and motif count in its own columns."""
    if not len(result):
        return pd.DataFrame(columns=["task", "name", "jaspar_id", "seed"])
    keys = ["task", "name", "jaspar_id", "seed"]
    engines = list(dict.fromkeys(result["engine"]))
    values = ["recovered", "best_qvalue", "motifs"]
    wide = result.set_index([*keys, "engine"])[values].unstack("engine")
    wide = wide.reindex(columns=[(value, engine) for engine in engines for value in values])
    wide.columns = [f"{engine} {value}" for value, engine in wide.columns]
    return wide.reset_index()


def write_recovery_page(result: pd.DataFrame, qvalue: float, path: PathLike) -> None:
    """The report page: the engines side by side for every planted motif and fine-tuning seed."""
    from dnabert.html import table, write_page

    wide = side_by_side(result)

    def plain(value):
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            return float(value) if np.isfinite(value) else None
        return value

    rows = [[plain(v) for v in row] for row in wide.itertuples(index=False)]
    engines = list(dict.fromkeys(result["engine"])) if len(result) else []
    totals = {engine: (int(result.loc[result["engine"] == engine, "recovered"].astype(bool).sum()),
                       int((result["engine"] == engine).sum())) for engine in engines}  # fmt: skip
    write_page(path, "interpret/recovery.html.j2", qvalue=qvalue, totals=totals, table=table(list(wide.columns), rows))
