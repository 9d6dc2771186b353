"""JASPAR profiles (pyjaspar's bundled database), TOMTOM matching (memelite) and planted-motif recovery.

TOMTOM is memelite's (complete scores, Euclidean distance, both strands).
memelite returns p-values only; ``tomtom_matches`` adds E-values
(p x number of targets, as MEME's tomtom) and q-values by Benjamini-Hochberg
over each query's p-values against all targets (MEME's tomtom also computes
q-values per query, but over both strands of every target and with Storey's
pi0 estimate, so its q-values are somewhat smaller).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import time
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.model import ALPHABET, Motif, MotifMatrix, consensus, probabilities, reverse_complement_matrix
from dnabert.interpret.motifs.pvalues import bh_adjust
from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- JASPAR


@functools.lru_cache(maxsize=8)
def _jaspar_cached(release: str, collection: str, tax_group: str | None, all_versions: bool) -> tuple[MotifMatrix, ...]:
    import pyjaspar

    if release not in getattr(pyjaspar, "jaspar_releases", {}):
        raise InputError(None, f"unknown JASPAR release {release!r}; pyjaspar bundles "
                         f"{sorted(getattr(pyjaspar, 'jaspar_releases', {}))}", field="jaspar_release")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = pyjaspar.jaspardb(release=release)
        records = db.fetch_motifs(collection=collection, tax_group=[tax_group] if tax_group else None,
                                  all_versions=all_versions)
    out = []
    for record in records:
        counts = np.array([record.counts[b] for b in ALPHABET], dtype=float)
        probs = probabilities(counts)
        probs.setflags(write=False)
        out.append(MotifMatrix(str(record.matrix_id), str(record.name), probs))
    return tuple(out)


def jaspar_motifs(
    release: str = "JASPAR2024", collection: str = "CORE", tax_group: str | None = "vertebrates",
    all_versions: bool = False,
) -> list[MotifMatrix]:
    """JASPAR profiles from pyjaspar's bundled (offline) database, as probability matrices ``(4, width)``."""
    motifs = list(_jaspar_cached(release, collection, tax_group, all_versions))
    log.info("JASPAR: %d %s %s matrices from %s", len(motifs), collection, tax_group or "", release)
    return motifs


# --------------------------------------------------------------------------- TOMTOM


def _query_list(motifs: Sequence[Motif | MotifMatrix] | Mapping[str, np.ndarray]) -> tuple[list[str], list[np.ndarray]]:
    if isinstance(motifs, Mapping):
        return list(motifs), [np.asarray(v, dtype=float) for v in motifs.values()]
    return [m.id for m in motifs], [np.asarray(m.probs, dtype=float) for m in motifs]


TOMTOM_COLUMNS = ["query", "query_consensus", "rank", "target_id", "target_name", "target_consensus",
                  "pvalue", "evalue", "qvalue", "score", "offset", "overlap", "orientation"]


def tomtom_matches(
    motifs: Sequence[Motif | MotifMatrix] | Mapping[str, np.ndarray],
    targets: Sequence[MotifMatrix],
    n_best: int | None = 5,
    threads: int | None = None,
) -> pd.DataFrame:
    """Compare each query motif with every target with memelite's TOMTOM; the ``n_best`` matches per query.

    Columns (see ``TOMTOM_COLUMNS``): ``pvalue`` as memelite (the better
    strand), ``evalue = pvalue * len(targets)``, ``qvalue`` Benjamini-Hochberg
    over that query's p-values against all targets, ``offset`` the column of the
    (oriented) target that faces the query's first column, ``orientation`` '+'
    or '-' (the target reverse-complemented), ``rank`` 1 = smallest p-value.
    """
    from memelite import tomtom

    names, queries = _query_list(motifs)
    if not queries or not targets:
        return pd.DataFrame({c: [] for c in TOMTOM_COLUMNS})
    for name, q in zip(names, queries):
        if q.ndim != 2 or q.shape[0] != 4 or q.shape[1] == 0:
            raise InputError(None, f"motif {name} has shape {q.shape}, expected (4, width)", field="motifs")
    target_probs = [np.asarray(t.probs, dtype=float) for t in targets]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*target motifs.*")
        p, score, offset, overlap, strand = tomtom(queries, target_probs, n_jobs=threads or -1)
    n_t = len(targets)
    q = np.vstack([bh_adjust(row) for row in p])
    keep = n_t if n_best is None else min(n_best, n_t)
    order = np.argsort(p, axis=1, kind="stable")[:, :keep]
    qi = np.repeat(np.arange(len(queries)), keep)
    ti = order.ravel()
    table = pd.DataFrame({
        "query": [names[i] for i in qi],
        "query_consensus": [consensus(queries[i]) for i in qi],
        "rank": np.tile(np.arange(1, keep + 1), len(queries)),
        "target_id": [targets[j].id for j in ti],
        "target_name": [targets[j].name for j in ti],
        "target_consensus": [consensus(target_probs[j] if strand[i, j] == 0 else reverse_complement_matrix(target_probs[j]))
                             for i, j in zip(qi, ti)],
        "pvalue": p[qi, ti],
        "evalue": p[qi, ti] * n_t,
        "qvalue": q[qi, ti],
        "score": score[qi, ti],
        "offset": offset[qi, ti].astype(np.int64),
        "overlap": overlap[qi, ti].astype(np.int64),
        "orientation": np.where(strand[qi, ti] == 0, "+", "-"),
    })
    log.info("TOMTOM: %d queries x %d targets (%.1f s)", len(queries), n_t, time.perf_counter() - t0)
    return table


def write_tomtom(table: pd.DataFrame, path: PathLike) -> None:
    """A :func:`tomtom_matches` table as TSV, written atomically."""
    with atomic_write(path) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")


# --------------------------------------------------------------------------- planted-motif recovery


def _base_id(matrix_id: str) -> str:
    return re.sub(r"\.\d+$", "", str(matrix_id))


def recovery_table(
    tomtom: pd.DataFrame, expected: Mapping[str, str], qvalue: float = 0.05, match_version: bool = False,
    match_name: bool = False,
) -> pd.DataFrame:
    """Whether each expected (planted) motif was found: some discovered motif matches its JASPAR id with q < ``qvalue``.

    ``expected`` maps a name to a JASPAR matrix id. By default the version
    suffix is ignored (``MA0139.2`` matches ``MA0139.1`` too): the target set
    may hold another version of the same profile. With ``match_name`` any
    target whose name equals the expected name (case-insensitive; e.g. the
    other CTCF profiles MA1929/MA1930) counts too. Only the rows present in
    ``tomtom`` are considered (the ``n_best`` per query). Columns: name,
    jaspar_id, recovered, best_qvalue, best_pvalue, motif, matched_id, rank.
    """
    rows = []
    ids = tomtom["target_id"].astype(str) if len(tomtom) else pd.Series([], dtype=str)
    for name, jaspar_id in expected.items():
        hit = ids == jaspar_id if match_version else ids.map(_base_id) == _base_id(jaspar_id)
        if match_name and len(tomtom):
            hit = hit | (tomtom["target_name"].astype(str).str.upper() == str(name).upper())
        sub = tomtom[hit.to_numpy()] if len(tomtom) else tomtom
        if len(sub):
            best = sub.sort_values(["qvalue", "pvalue", "rank"], kind="stable").iloc[0]
            rows.append({"name": name, "jaspar_id": jaspar_id, "recovered": bool(best["qvalue"] < qvalue),
                         "best_qvalue": float(best["qvalue"]), "best_pvalue": float(best["pvalue"]),
                         "motif": best["query"], "matched_id": best["target_id"], "rank": int(best["rank"])})
        else:
            rows.append({"name": name, "jaspar_id": jaspar_id, "recovered": False, "best_qvalue": math.nan,
                         "best_pvalue": math.nan, "motif": "", "matched_id": "", "rank": 0})
    return pd.DataFrame(rows, columns=["name", "jaspar_id", "recovered", "best_qvalue", "best_pvalue", "motif",
                                       "matched_id", "rank"])
