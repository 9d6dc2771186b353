"""TF-MoDISco (modisco-lite) on per-base attribution scores: the motif engine of ChromBPNet and gReLU.

:func:`run_modisco` gives modisco-lite the positives' one-hot sequences and their
hypothetical contributions (:mod:`dnabert.interpret.attribution`); it finds seqlets
(windows of high contribution against a Laplace null, at ``target_seqlet_fdr``),
clusters them (Leiden on a similarity graph) and aggregates each cluster into a
pattern. Each pattern becomes a motif as modisco-lite's own report does for TOMTOM:
its sequence probability matrix, trimmed to the columns whose summed |contribution|
is at least ``trim_threshold`` of the pattern's largest. Patterns of the positive
metacluster (``pos_*``: bases that raise the class logit) come first, then the
negative ones (``neg_*``), each by number of seqlets.

modisco-lite's numba kernels compile on first use and go to numba's on-disk cache
(``NUMBA_CACHE_DIR``; the workflow points it at ``.snakemake/numba-cache``), so only
the first job of a fresh environment pays for compiling.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.model import MotifMatrix, consensus
from dnabert.io import InputError, PathLike, atomic_write
from dnabert.sequence import one_hot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModiscoSettings:
    """``interpret.modisco``: modisco-lite's parameters (its names) sized for short sequences and small samples."""

    sliding_window_size: int = 15
    flank_size: int = 5
    target_seqlet_fdr: float = 0.2
    max_seqlets_per_metacluster: int = 2000
    min_metacluster_size: int = 30
    final_min_cluster_size: int = 10
    n_leiden_runs: int = 4
    trim_threshold: float = 0.3

    def __post_init__(self) -> None:
        for name in ("sliding_window_size", "max_seqlets_per_metacluster", "min_metacluster_size",
                     "final_min_cluster_size", "n_leiden_runs"):  # fmt: skip
            if getattr(self, name) < 1:
                raise InputError(None, f"must be >= 1, got {getattr(self, name)}", field=f"interpret.modisco.{name}")
        if not 0 < self.trim_threshold < 1:
            raise InputError(None, f"must be in (0, 1), got {self.trim_threshold}", field="interpret.modisco.trim_threshold")

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ModiscoSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(None, f"unknown key(s) {', '.join(unknown)}", field="interpret.modisco")
        return cls(**dict(section))


@dataclass
class ModiscoResult:
    """The motifs (trimmed PPMs, named ``pos_1``, ..., ``neg_1``, ...), one summary row each, and their instances."""

    motifs: list[MotifMatrix]
    summary: pd.DataFrame  # motif, consensus, width, seqlets, sequences, metacluster, contribution
    instances: pd.DataFrame  # motif, seq_index, start, end, strand, sequence
    stats: dict[str, int]
    n_pos: int = 0  # the sequences searched


def _padded(sequences: Sequence[str], hypothetical: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(n, length, 4)`` float32 one-hot (ACGT) and hypothetical contributions, zero-padded to the longest."""
    width = max(len(s) for s in sequences)
    codes = np.full((len(sequences), width), ord("N"), dtype=np.uint8)
    hyp = np.zeros((len(sequences), width, 4), dtype=np.float32)
    for i, (seq, h) in enumerate(zip(sequences, hypothetical)):
        h = np.asarray(h, dtype=np.float32)
        if h.shape != (len(seq), 4):
            raise InputError(None, f"sequence {i}: hypothetical contributions of shape {h.shape} for {len(seq)} bp",
                             field="hypothetical")  # fmt: skip
        codes[i, : len(seq)] = np.frombuffer(seq.upper().encode("ascii"), dtype=np.uint8)
        hyp[i, : len(seq)] = h
    return one_hot(codes).transpose(0, 2, 1).astype(np.float32), hyp


def _trim_bounds(cwm: np.ndarray, threshold: float) -> tuple[int, int]:
    score = np.abs(cwm).sum(axis=1)
    passing = np.flatnonzero(score >= score.max() * threshold)
    return int(passing.min()), int(passing.max()) + 1


def _pattern_rows(pattern, name: str, start: int, end: int, sequences: Sequence[str]) -> list[dict]:
    rows = []
    for seqlet in pattern.seqlets:
        if seqlet.is_revcomp:
            a, b, strand = seqlet.end - end, seqlet.end - start, "-"
        else:
            a, b, strand = seqlet.start + start, seqlet.start + end, "+"
        seq = sequences[seqlet.example_idx]
        if 0 <= a and b <= len(seq):
            rows.append({"motif": name, "seq_index": int(seqlet.example_idx), "start": int(a), "end": int(b),
                         "strand": strand, "sequence": seq[a:b]})  # fmt: skip
    return rows


def _collect(patterns, metacluster: str, sequences: Sequence[str], trim: float
             ) -> tuple[list[MotifMatrix], list[dict], list[dict]]:  # fmt: skip
    motifs, summary, instances = [], [], []
    ordered = sorted(patterns or [], key=lambda p: -len(p.seqlets))
    for i, pattern in enumerate(ordered, start=1):
        start, end = _trim_bounds(pattern.contrib_scores, trim)
        ppm = np.asarray(pattern.sequence[start:end], dtype=float)
        ppm = ppm / ppm.sum(axis=1, keepdims=True)
        name = f"{metacluster}_{i}"
        motif = MotifMatrix(name, f"{metacluster}_pattern_{i - 1}", ppm.T.copy(), nsites=len(pattern.seqlets))
        motifs.append(motif)
        rows = _pattern_rows(pattern, name, start, end, sequences)
        instances += rows
        summary.append({"motif": name, "consensus": consensus(motif.probs), "width": motif.width,
                        "seqlets": len(pattern.seqlets), "sequences": len({r["seq_index"] for r in rows}),
                        "metacluster": metacluster,
                        "contribution": float(np.asarray(pattern.contrib_scores[start:end]).sum())})  # fmt: skip
    return motifs, summary, instances


def run_modisco(sequences: Sequence[str], hypothetical: Sequence[np.ndarray], settings: ModiscoSettings | None = None,
                seed: int = 0) -> ModiscoResult:  # fmt: skip
    """TF-MoDISco on sequences and their ``(length, 4)`` hypothetical contributions (ACGT).

    Sequences of different lengths are zero-padded to the longest (padding contributes
    nothing); instances are reported only where they lie inside their sequence.
    """
    from modiscolite.tfmodisco import TFMoDISco

    from dnabert.interpret.numba_cache import cache_modisco_kernels

    cache_modisco_kernels()
    s = settings or ModiscoSettings()
    empty = ModiscoResult([], pd.DataFrame(columns=["motif", "consensus", "width", "seqlets", "sequences", "metacluster",
                                                    "contribution"]),
                          pd.DataFrame(columns=["motif", "seq_index", "start", "end", "strand", "sequence"]),
                          {"sequences": len(sequences)}, len(sequences))  # fmt: skip
    if not sequences:
        return empty
    if len(hypothetical) != len(sequences):
        raise InputError(None, f"{len(hypothetical)} hypothetical contributions for {len(sequences)} sequences",
                         field="hypothetical")  # fmt: skip
    onehot, hyp = _padded(sequences, hypothetical)
    started = time.perf_counter()
    np.random.seed(seed)  # modisco-lite draws its Laplace null and Leiden seeds from numpy's global state
    try:
        pos, neg = TFMoDISco(onehot, hyp, sliding_window_size=s.sliding_window_size, flank_size=s.flank_size,
                             target_seqlet_fdr=s.target_seqlet_fdr,
                             max_seqlets_per_metacluster=s.max_seqlets_per_metacluster,
                             min_metacluster_size=s.min_metacluster_size,
                             final_min_cluster_size=s.final_min_cluster_size, n_leiden_runs=s.n_leiden_runs)
    except ValueError as error:  # e.g. too few seqlets to estimate a threshold
        log.warning("TF-MoDISco found no patterns: %s", error)
        return empty
    motifs, summary, instances = [], [], []
    for patterns, metacluster in ((pos, "pos"), (neg, "neg")):
        m, rows, inst = _collect(patterns, metacluster, sequences, s.trim_threshold)
        motifs += m
        summary += rows
        instances += inst
    log.info("TF-MoDISco: %d sequences of %d bp -> %d patterns (%d positive) in %.1f s", len(sequences),
             onehot.shape[1], len(motifs), len(pos or []), time.perf_counter() - started)  # fmt: skip
    stats = {"sequences": len(sequences), "patterns": len(motifs), "positive_patterns": len(pos or []),
             "seqlets_in_patterns": int(sum(r["seqlets"] for r in summary))}  # fmt: skip
    return ModiscoResult(motifs, pd.DataFrame(summary, columns=empty.summary.columns),
                         pd.DataFrame(instances, columns=empty.instances.columns), stats, len(sequences))  # fmt: skip


def write_modisco_summary(result: ModiscoResult, path: PathLike) -> None:
    """One row per pattern as TSV, written atomically."""
    with atomic_write(path) as handle:
        result.summary.to_csv(handle, sep="\t", index=False, float_format="%.6g")
