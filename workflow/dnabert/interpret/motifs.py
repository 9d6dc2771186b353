"""Motifs from per-base attention: DNABERT's ``motif_analysis``, vectorised; MEME output; TOMTOM against JASPAR.

The algorithm is DNABERT's (``motif/find_motifs.py`` -> ``motif_utils.motif_analysis``):

1. **High-attention regions.** In each positive sequence, the positions whose
   score is above the sequence's mean *and* above ``min_factor`` (10) times its
   minimum; contiguous runs of at least ``min_len`` bases (``find_high_attention``).
   A region's (upper-cased) sequence is a *candidate* motif; each region is an
   instance of its candidate. Done for all sequences at once on flat arrays.
2. **Enrichment.** For every distinct candidate, the number of positive and of
   negative sequences that contain it (exact substring; DNABERT uses
   Aho-Corasick). Here: sequences are 2-bit encoded, every window of each
   candidate length is hashed exactly (rolling 2-bit codes, one uint64 per 32
   bases, longer windows as tuples of overlapping 32-base chunks), and the window
   hashes are looked up in the candidates' (a direct table for lengths <= 10, a
   10-mer prefix filter then ``searchsorted`` above). Candidates with letters
   other than ACGT fall back to Python's ``in``. Hypergeometric test
   ``p = hypergeom.sf(x - 1, N, K, n)`` with ``N`` all sequences, ``K``
   positives, ``n`` sequences containing the candidate, ``x`` positives among
   them; Benjamini-Hochberg over all candidates; keep adjusted ``p < pval_cutoff``.
3. **Merging** (``merge_motifs``). Candidates, shortest first, are aligned with
   no internal gaps to every *key* motif kept so far; a candidate whose best
   alignment score (matching letters; end gaps free) reaches
   ``max(min_len - 1, min length / 2)`` (or ``align_cond``) is merged into the
   best-scoring key (every tied key with ``align_all_ties``), its instances
   moved onto the key's frame by the alignment shift; otherwise it becomes a key.
4. **Windows** (``make_window``). Each instance is re-centred on a ``window``
   (24) bp window in its positive sequence; windows running off the sequence
   are dropped; keys with fewer than ``min_n_motif`` windows are dropped. Each
   motif is the count matrix of its windows.

Deviations from DNABERT's code, all deliberate:

* ``align_all_ties``: DNABERT compares the Biopython alignment *objects* to the
  best one (``alignments[i] == best``), which compares alignment paths, not
  scores; we merge into every key whose alignment *score* ties the best, which
  is what its docstring describes.
* Alignment scores are those of DNABERT's era of Biopython (match 1, mismatch 0,
  every gap 0 except the forbidden internal ones). Biopython >= 1.80 changed the
  ``PairwiseAligner`` defaults to end-gap scores of -1, which would change which
  candidates merge. Among equally good shifts we take the one Biopython's first
  optimal alignment takes (checked against Biopython 1.88 with those scores):
  the largest shift when one of the ties overhangs the candidate's right end,
  else the smallest.
* Sequences are upper-cased (soft-masked genomes), so ``acgt`` counts as ``ACGT``.
* ``strict_window_end=True`` keeps DNABERT's bound ``window end < sequence
  length`` (it drops a window that ends exactly at the sequence end); ``False``
  allows it.
* Motifs are sorted by number of windows (then the seed's adjusted p-value;
  or the other way round with ``sort_by="pvalue"``) and named ``motif_1``,
  ``motif_2``, ...

Matrices are ``(4, width)`` arrays, rows A, C, G, T (memelite's layout).

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dnabert.io import InputError, PathLike, atomic_write

log = logging.getLogger(__name__)

ALPHABET = "ACGT"
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i
    _CODE[_c + 32] = _i  # lower case
_DIRECT_MAX = 10  # candidate lengths up to this use a direct 4^L lookup table
_CHUNK = 32  # bases per uint64
_P_ADJUST = ("fdr_bh", "bonferroni", "none")


# --------------------------------------------------------------------------- settings and results


@dataclass(frozen=True)
class MotifSettings:
    """Parameters of :func:`discover` (DNABERT's ``motif_analysis`` keyword arguments).

    ``window``: width of the final motif windows; ``min_len``: shortest
    high-attention region; ``pval_cutoff``: adjusted p-value below which a
    candidate is kept; ``min_n_motif``: fewest windows a motif may have;
    ``align_all_ties``: merge a candidate into every key tied for the best
    alignment; ``align_cond``: alignment score needed to merge (DNABERT's
    ``align_cond``; default ``max(min_len - 1, shorter length / 2)``);
    ``p_adjust``: ``fdr_bh`` (DNABERT's default), ``bonferroni`` or ``none``;
    ``allow_multi_match``: count every occurrence rather than every sequence;
    ``min_factor``: a high-attention base must score above this times the
    sequence minimum; ``strict_window_end``: DNABERT's ``end < length`` bound;
    ``sort_by``: order of the motifs, ``instances`` (most windows first) or
    ``pvalue`` (the seed's adjusted p-value, smallest first).
    """

    window: int = 24
    min_len: int = 5
    pval_cutoff: float = 0.005
    min_n_motif: int = 3
    align_all_ties: bool = True
    align_cond: float | None = None
    p_adjust: str = "fdr_bh"
    allow_multi_match: bool = False
    min_factor: float = 10.0
    strict_window_end: bool = True
    sort_by: str = "instances"

    def __post_init__(self) -> None:
        problems = []
        if self.window < 1:
            problems.append(("window", f"must be >= 1, got {self.window}"))
        if self.min_len < 1:
            problems.append(("min_len", f"must be >= 1, got {self.min_len}"))
        if not 0 < self.pval_cutoff <= 1:
            problems.append(("pval_cutoff", f"must be in (0, 1], got {self.pval_cutoff}"))
        if self.min_n_motif < 1:
            problems.append(("min_n_motif", f"must be >= 1, got {self.min_n_motif}"))
        if self.align_cond is not None and not self.align_cond > 0:
            problems.append(("align_cond", f"must be > 0, got {self.align_cond}"))
        if self.p_adjust not in _P_ADJUST:
            problems.append(("p_adjust", f"must be one of {_P_ADJUST}, got {self.p_adjust!r}"))
        if self.sort_by not in ("instances", "pvalue"):
            problems.append(("sort_by", f"must be 'instances' or 'pvalue', got {self.sort_by!r}"))
        if problems:
            name, message = problems[0]
            raise InputError(None, message, field=f"motifs.{name}")


@dataclass(frozen=True)
class Motif:
    """One discovered motif: the counts of its windows and the statistics of its seed candidate.

    ``counts`` is ``(4, width)`` (rows A, C, G, T; letters other than ACGT are
    not counted). ``seed`` is the key candidate the others were merged into;
    ``pos_count``/``neg_count``/``pvalue``/``padj`` are the seed's.
    """

    id: str
    seed: str
    counts: np.ndarray
    n_instances: int
    n_sequences: int
    pos_count: int
    neg_count: int
    pvalue: float
    padj: float
    merged: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return int(self.counts.shape[1])

    @property
    def probs(self) -> np.ndarray:
        """Letter probabilities, ``(4, width)``; a column without counts is uniform."""
        return _probabilities(self.counts)

    @property
    def consensus(self) -> str:
        return consensus(self.probs)


@dataclass(frozen=True)
class MotifMatrix:
    """A named probability matrix, ``probs`` of shape ``(4, width)`` (e.g. a JASPAR profile)."""

    id: str
    name: str
    probs: np.ndarray

    @property
    def width(self) -> int:
        return int(self.probs.shape[1])

    @property
    def consensus(self) -> str:
        return consensus(self.probs)


@dataclass
class MotifResult:
    """What :func:`discover` found.

    ``instances``: one row per motif window (motif, seq_index, start, end,
    strand, sequence; 0-based half-open in the positive sequence).
    ``candidates``: one row per distinct candidate (sequence, length, regions,
    pos_count, neg_count, pvalue, padj, significant, key: the seed it was
    merged into, or empty). ``stats``: counts after each step.
    """

    motifs: list[Motif]
    instances: pd.DataFrame
    candidates: pd.DataFrame
    n_pos: int
    n_neg: int
    settings: MotifSettings
    background: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per motif: id, seed, consensus, width, instances, sequences, merged, counts, p-values."""
        return summary_table(self.motifs)


# --------------------------------------------------------------------------- small helpers


def _probabilities(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(axis=0, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(total > 0, counts / np.where(total > 0, total, 1), 0.25)
    return probs


def consensus(probs: np.ndarray) -> str:
    """The most likely letter of each column of a ``(4, width)`` matrix (first of ties, as MEME)."""
    probs = np.asarray(probs)
    return "".join(ALPHABET[i] for i in probs.argmax(axis=0))


def information_content(probs: np.ndarray) -> np.ndarray:
    """Bits per column of a ``(4, width)`` probability matrix (uniform background)."""
    p = np.asarray(probs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log2(np.where(p > 0, p, 1)), 0.0).sum(axis=0)
    return 2.0 - h


def reverse_complement_matrix(probs: np.ndarray) -> np.ndarray:
    """The reverse complement of a ``(4, width)`` ACGT matrix."""
    return np.asarray(probs)[::-1, ::-1].copy()


def _as_list(seqs: Sequence[str], what: str) -> list[str]:
    if isinstance(seqs, str):
        raise InputError(None, "expected a list of sequences, got one string", field=what)
    out = list(seqs)
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise InputError(None, f"sequence {i} is {type(s).__name__}, not str", field=what)
    return out


@dataclass(frozen=True)
class _Packed:
    """Sequences as one flat code array: 0-3 for ACGT, 4 for anything else and one separator after each."""

    seqs: list[str]  # upper-case
    buf: bytes  # the upper-case text, each sequence followed by a newline
    codes: np.ndarray  # uint8, len(buf)
    offsets: np.ndarray  # int64 start of each sequence in buf, plus the end
    lengths: np.ndarray  # int64

    @property
    def n(self) -> int:
        return len(self.seqs)


def _pack(seqs: Sequence[str], what: str) -> _Packed:
    seqs = [s.upper() for s in _as_list(seqs, what)]
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    try:
        buf = ("\n".join(seqs) + "\n").encode("ascii") if seqs else b""
    except UnicodeEncodeError:
        bad = next(i for i, s in enumerate(seqs) if not s.isascii())
        raise InputError(None, f"sequence {bad} has non-ASCII characters", field=what) from None
    codes = _CODE[np.frombuffer(buf, dtype=np.uint8)]
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=offsets[1:])
    return _Packed(seqs, buf, codes, offsets, lengths)


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: numpy 2.4's hash-based ``np.unique`` is ~100x slower on millions)."""
    values = np.sort(np.asarray(values).ravel())
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _concat(a: _Packed, b: _Packed) -> _Packed:
    offsets = np.concatenate([a.offsets[:-1], b.offsets + a.offsets[-1]])
    return _Packed(a.seqs + b.seqs, a.buf + b.buf, np.concatenate([a.codes, b.codes]), offsets,
                   np.concatenate([a.lengths, b.lengths]))


# --------------------------------------------------------------------------- 1. high-attention regions


def _pack_scores(
    scores: Sequence[np.ndarray] | np.ndarray, lengths: np.ndarray | None, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Scores as one flat float64 array plus their lengths; checks shape, length and finiteness."""
    if isinstance(scores, np.ndarray) and scores.ndim == 2:
        rows = scores.shape[0]
        score_lengths = np.full(rows, scores.shape[1], dtype=np.int64)
        flat = np.asarray(scores, dtype=np.float64).ravel()
    else:
        arrays = []
        for i, s in enumerate(scores):
            a = np.asarray(s, dtype=np.float64)
            if a.ndim != 1:
                raise InputError(None, f"scores of sequence {i} have shape {a.shape}, expected one value per base", field=what)
            arrays.append(a)
        rows = len(arrays)
        score_lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=rows)
        flat = np.concatenate(arrays) if arrays else np.zeros(0)
    if lengths is not None:
        if rows != len(lengths):
            raise InputError(None, f"{rows} score arrays for {len(lengths)} sequences", field=what)
        wrong = np.flatnonzero(score_lengths != lengths)
        if wrong.size:
            i = int(wrong[0])
            raise InputError(
                None, f"sequence {i}: {score_lengths[i]} scores for {lengths[i]} bases "
                f"({wrong.size} sequences differ)", field=what)
    finite = np.isfinite(flat)
    if not finite.all():
        pos = int(np.flatnonzero(~finite)[0])
        i = int(np.searchsorted(np.cumsum(score_lengths), pos, side="right"))
        raise InputError(None, f"sequence {i} has non-finite scores", field=what)
    return flat, score_lengths


def high_attention_regions(
    scores: Sequence[np.ndarray] | np.ndarray, min_len: int = 5, min_factor: float = 10.0
) -> pd.DataFrame:
    """High-attention regions of many sequences at once (DNABERT's ``find_high_attention``).

    ``scores``: one 1-D array per sequence (ragged) or an ``(n, length)`` array.
    A base is high when its score is above its sequence's mean and above
    ``min_factor`` times the sequence's minimum. Returns the runs of at least
    ``min_len`` high bases as a DataFrame ``seq, start, end`` (0-based, half-open),
    in sequence then position order.
    """
    flat, lengths = _pack_scores(scores, None, "scores")
    return _regions(flat, lengths, min_len, min_factor)


def find_high_attention(score: np.ndarray, min_len: int = 5, min_factor: float = 10.0) -> np.ndarray:
    """One sequence's high-attention regions as an ``(n, 2)`` array of ``[start, end)``, like DNABERT's."""
    regions = high_attention_regions([np.asarray(score, dtype=float)], min_len, min_factor)
    return regions[["start", "end"]].to_numpy(dtype=np.int64).reshape(-1, 2)


def _regions(flat: np.ndarray, lengths: np.ndarray, min_len: int, min_factor: float) -> pd.DataFrame:
    n = lengths.size
    empty = pd.DataFrame({"seq": np.zeros(0, np.int64), "start": np.zeros(0, np.int64), "end": np.zeros(0, np.int64)})
    if flat.size == 0:
        return empty
    starts_of = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts_of[1:])
    seq_id = np.repeat(np.arange(n), lengths)
    nonempty = lengths > 0
    mean = np.zeros(n)
    mean[nonempty] = np.bincount(seq_id, weights=flat, minlength=n)[nonempty] / lengths[nonempty]
    minimum = np.zeros(n)
    minimum[nonempty] = np.minimum.reduceat(flat, starts_of[:-1][nonempty])
    high = (flat > mean[seq_id]) & (flat > min_factor * minimum[seq_id])
    first = np.zeros(flat.size, dtype=bool)
    first[starts_of[:-1][nonempty]] = True
    last = np.zeros(flat.size, dtype=bool)
    last[starts_of[1:][nonempty] - 1] = True
    prev_high = np.concatenate([[False], high[:-1]]) & ~first
    next_high = np.concatenate([high[1:], [False]]) & ~last
    run_start = np.flatnonzero(high & ~prev_high)
    run_end = np.flatnonzero(high & ~next_high) + 1
    keep = (run_end - run_start) >= min_len
    run_start, run_end = run_start[keep], run_end[keep]
    seq = seq_id[run_start]
    return pd.DataFrame({"seq": seq, "start": run_start - starts_of[seq], "end": run_end - starts_of[seq]})


# --------------------------------------------------------------------------- 2. enrichment


def _encode_patterns(patterns: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    codes = [_CODE[np.frombuffer(p.encode("ascii", "replace"), dtype=np.uint8)] for p in patterns]
    exact = np.fromiter(((c.size > 0) and bool((c < 4).all()) for c in codes), dtype=bool, count=len(codes))
    return codes, exact


def _hash(codes: np.ndarray) -> np.ndarray:
    """2-bit hashes of the rows of an ``(n, L)`` code array, L <= 32."""
    h = np.zeros(codes.shape[0], dtype=np.uint64)
    for j in range(codes.shape[1]):
        h = (h << np.uint64(2)) | codes[:, j].astype(np.uint64)
    return h


def _chunk_offsets(length: int) -> np.ndarray:
    """Start offsets of the 32-base chunks covering a window of ``length`` > 32 (the last overlaps)."""
    return np.unique(np.r_[np.arange(0, length - _CHUNK + 1, _CHUNK), length - _CHUNK])


def _occurrences(packed: _Packed, patterns: list[str], unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Every (pattern index, sequence index) with the pattern in the sequence, once per pair if ``unique``.

    Exact for any pattern length; patterns with letters other than ACGT are matched with Python's ``in``.
    """
    if not patterns:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if any(len(p) == 0 for p in patterns):
        raise InputError(None, "empty pattern", field="patterns")
    codes, exact = _encode_patterns(patterns)
    plen = np.fromiter(map(len, patterns), dtype=np.int64, count=len(patterns))
    out_p: list[np.ndarray] = []
    out_pos: list[np.ndarray] = []
    total = packed.codes.size
    if exact.any() and total:
        c64 = np.where(packed.codes < 4, packed.codes, 0).astype(np.uint64)
        badcum = np.zeros(total + 1, dtype=np.int64)
        np.cumsum(packed.codes == 4, out=badcum[1:])
        by_len: dict[int, np.ndarray] = {}
        for L in _unique(plen[exact]):
            by_len[int(L)] = np.flatnonzero(exact & (plen == L))
        lengths = sorted(by_len)
        # rolling 2-bit codes of every window of length L = 1, 2, ... (32 when longer patterns need the chunks)
        last = _CHUNK if max(lengths) > _CHUNK else max(lengths)
        w = w10 = w32 = None
        for L in range(1, last + 1):
            w = c64 if L == 1 else (w[:-1] << np.uint64(2)) | c64[L - 1:]
            if L == _DIRECT_MAX:
                w10 = w
            if L == _CHUNK:
                w32 = w
            if L in by_len:
                idx = by_len[L]
                p, pos = _match_short(L, idx, codes, w, w10, badcum)
                out_p.append(p)
                out_pos.append(pos)
        for L in lengths:
            if L > _CHUNK:
                idx = by_len[L]
                p, pos = _match_long(L, idx, codes, w10, w32, badcum)
                out_p.append(p)
                out_pos.append(pos)
    p_all = np.concatenate(out_p) if out_p else np.zeros(0, np.int64)
    pos_all = np.concatenate(out_pos) if out_pos else np.zeros(0, np.int64)
    seq_all = np.searchsorted(packed.offsets, pos_all, side="right") - 1
    if unique and p_all.size:
        key = _unique(p_all * np.int64(max(packed.n, 1)) + seq_all)
        p_all, seq_all = key // max(packed.n, 1), key % max(packed.n, 1)
    fallback = np.flatnonzero(~exact)
    if fallback.size:
        if fallback.size > 100:
            log.warning("%d candidates contain letters other than ACGT; counting them with Python's 'in'", fallback.size)
        fp, fs = [], []
        for i in fallback:
            pat = patterns[i]
            for s_idx, s in enumerate(packed.seqs):
                hits = _count_overlapping(s, pat) if not unique else int(pat in s)
                if hits:
                    fp.extend([i] * hits)
                    fs.extend([s_idx] * hits)
        p_all = np.concatenate([p_all, np.asarray(fp, dtype=np.int64)])
        seq_all = np.concatenate([seq_all, np.asarray(fs, dtype=np.int64)])
    return p_all.astype(np.int64), seq_all.astype(np.int64)


def _count_overlapping(text: str, pattern: str) -> int:
    count, start = 0, text.find(pattern)
    while start >= 0:
        count += 1
        start = text.find(pattern, start + 1)
    return count


def _valid(badcum: np.ndarray, pos: np.ndarray, length: int) -> np.ndarray:
    return badcum[pos + length] == badcum[pos]


def _match_short(L: int, idx: np.ndarray, codes: list[np.ndarray], w: np.ndarray, w10: np.ndarray | None,
                 badcum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pattern index, window start) of every exact hit of the length-``L`` (<= 32) patterns ``idx``."""
    hashes = _hash(np.stack([codes[i] for i in idx]))
    uniq, inverse = np.unique(hashes, return_inverse=True)
    n_win = w.size
    if L <= _DIRECT_MAX:
        table = np.full(4**L, -1, dtype=np.int64)
        table[uniq.astype(np.int64)] = np.arange(uniq.size)
        which = table[w.view(np.int64)]
        pos = np.flatnonzero(which >= 0)
        which = which[pos]
    else:
        prefix = np.zeros(4**_DIRECT_MAX, dtype=bool)
        prefix[(uniq >> np.uint64(2 * (L - _DIRECT_MAX))).astype(np.int64)] = True
        pos = np.flatnonzero(prefix[w10[:n_win].view(np.int64)])
        j = np.minimum(np.searchsorted(uniq, w[pos]), uniq.size - 1)
        hit = uniq[j] == w[pos]
        pos, which = pos[hit], j[hit]
    ok = _valid(badcum, pos, L)
    pos, which = pos[ok], which[ok]
    return _expand(idx, inverse, which, pos)


def _match_long(L: int, idx: np.ndarray, codes: list[np.ndarray], w10: np.ndarray, w32: np.ndarray,
                badcum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`_match_short` for patterns longer than 32: exact tuples of overlapping 32-base chunks."""
    offs = _chunk_offsets(L)
    mat = np.stack([codes[i] for i in idx])
    keys = np.stack([_hash(mat[:, o:o + _CHUNK]) for o in offs], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_win = w32.size - (L - _CHUNK)
    if n_win <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    prefix = np.zeros(4**_DIRECT_MAX, dtype=bool)
    prefix[(uniq[:, 0] >> np.uint64(2 * (_CHUNK - _DIRECT_MAX))).astype(np.int64)] = True
    pos = np.flatnonzero(prefix[w10[:n_win].view(np.int64)])
    pos = pos[_valid(badcum, pos, L)]
    if pos.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    wkeys = np.stack([w32[pos + o] for o in offs], axis=1)
    both = np.concatenate([uniq, wkeys])
    _, inv = np.unique(both, axis=0, return_inverse=True)
    inv = inv.ravel()
    group_to_pattern = np.full(inv.max() + 1, -1, dtype=np.int64)
    group_to_pattern[inv[: uniq.shape[0]]] = np.arange(uniq.shape[0])
    which = group_to_pattern[inv[uniq.shape[0]:]]
    hit = which >= 0
    return _expand(idx, inverse, which[hit], pos[hit])


def _expand(idx: np.ndarray, inverse: np.ndarray, which: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hits of unique hashes back to every pattern (duplicates included) with that hash."""
    inverse = np.asarray(inverse).ravel()
    if inverse.size == _unique(inverse).size:  # no duplicate patterns: one pattern per unique hash
        first = np.empty(inverse.size, dtype=np.int64)
        first[inverse] = idx
        return first[which], pos
    order = np.argsort(inverse, kind="stable")
    groups = np.bincount(inverse, minlength=int(inverse.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(groups)[:-1]])
    reps = groups[which]
    hit_rep = np.repeat(np.arange(which.size), reps)
    within = np.arange(hit_rep.size) - np.repeat(np.cumsum(reps) - reps, reps)
    return idx[order[starts[which][hit_rep] + within]], pos[hit_rep]


def count_containing(seqs: Sequence[str], patterns: Sequence[str], allow_multi_match: bool = False) -> np.ndarray:
    """For each pattern, how many sequences contain it (every overlapping occurrence if ``allow_multi_match``).

    Case-insensitive; exact for any pattern length.
    """
    packed = _pack(seqs, "seqs")
    patterns = [p.upper() for p in patterns]
    p, _ = _occurrences(packed, patterns, unique=not allow_multi_match)
    return np.bincount(p, minlength=len(patterns)).astype(np.int64)


def hypergeom_pvalues(pos_counts: np.ndarray, neg_counts: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """DNABERT's enrichment p-value per candidate: ``hypergeom.sf(x - 1, N, K, n)``.

    ``N = n_pos + n_neg`` sequences, ``K = n_pos``, ``n = pos + neg`` sequences
    with the candidate, ``x = pos`` of them positive.
    """
    from scipy.stats import hypergeom

    x = np.asarray(pos_counts, dtype=np.int64)
    n = x + np.asarray(neg_counts, dtype=np.int64)
    if x.size == 0:
        return np.zeros(0)
    # many candidates share (x, n): evaluate each pair once
    pairs, inverse = np.unique(np.stack([x, n], axis=1), axis=0, return_inverse=True)
    p = np.asarray(hypergeom.sf(pairs[:, 0] - 1, n_pos + n_neg, n_pos, pairs[:, 1]), dtype=float)
    return p[inverse.ravel()]


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (as statsmodels' ``fdr_bh``), capped at 1."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def adjust_pvalues(pvalues: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """``fdr_bh`` (Benjamini-Hochberg), ``bonferroni`` or ``none``."""
    p = np.asarray(pvalues, dtype=float)
    if method == "fdr_bh":
        return bh_adjust(p)
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if method == "none":
        return p.copy()
    raise InputError(None, f"unknown p-value adjustment {method!r}; use one of {_P_ADJUST}", field="p_adjust")


# --------------------------------------------------------------------------- 3. merging


def best_shift(query: str, key: str) -> tuple[int, int]:
    """The ungapped alignment of ``key`` on ``query`` as DNABERT scores it: ``(score, shift)``.

    ``score`` is the number of matching letters (end gaps free); ``shift`` is the
    query position that the key's first letter faces (negative: the key hangs
    over the query's left end). Ties as Biopython's first optimal alignment.
    """
    scores, shifts = _shift_scores(np.frombuffer(query.encode(), np.uint8), np.frombuffer(key.encode(), np.uint8)[None, :])
    best = int(scores[0].max())
    return best, int(_pick_shift(scores[0], shifts, len(query), len(key)))


def _shift_scores(query: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matches of every key row (0-padded) at every shift of ``query``: ``(n_keys, n_shifts)``, shifts."""
    kmax = keys.shape[1]
    pad = np.ones(kmax - 1, dtype=np.uint8)
    padded = np.concatenate([pad, query, pad])
    windows = np.lib.stride_tricks.sliding_window_view(padded, kmax)  # (len(query) + kmax - 1, kmax)
    scores = (windows[None, :, :] == keys[:, None, :]).sum(axis=2, dtype=np.int32)
    return scores, np.arange(windows.shape[0]) - (kmax - 1)


def _pick_shift(scores: np.ndarray, shifts: np.ndarray, qlen: int, klen: int) -> int:
    ties = scores == scores.max()
    if (ties & (shifts > qlen - klen)).any():
        return int(shifts[ties].max())
    return int(shifts[ties].min())


def merge_motifs(
    motifs: Sequence[str], min_len: int = 5, align_all_ties: bool = True, align_cond: float | None = None
) -> pd.DataFrame:
    """DNABERT's ``merge_motifs`` on candidate strings; returns the merge as a table.

    Candidates are taken shortest first (stable, so equal lengths keep the given
    order). Each is aligned to every key kept so far; if its best score reaches
    ``align_cond`` (default ``max(min_len - 1, min(len) / 2)``) it is merged into
    the best key (all tied keys with ``align_all_ties``), else it becomes a key.
    Returns columns ``candidate`` (index into ``motifs``), ``key`` (index of the
    key it went to; itself for keys), ``shift`` (key start minus candidate start,
    so an instance at ``[s, e)`` becomes ``[s + shift, s + shift + len(key))``),
    in the order the merge happened.
    """
    motifs = list(motifs)
    order = sorted(range(len(motifs)), key=lambda i: len(motifs[i]))
    if not motifs:
        return pd.DataFrame({"candidate": np.zeros(0, np.int64), "key": np.zeros(0, np.int64), "shift": np.zeros(0, np.int64)})
    encoded = [np.frombuffer(m.encode("ascii", "replace"), dtype=np.uint8) for m in motifs]
    width = max(map(len, encoded))
    keys = np.zeros((len(motifs), width), dtype=np.uint8)  # 0 pads a key, 1 pads the query: never equal
    key_len = np.zeros(len(motifs), dtype=np.int64)
    key_index: list[int] = []
    rows: list[tuple[int, int, int]] = []
    for i in order:
        q = encoded[i]
        n_keys = len(key_index)
        if n_keys:
            kmax = int(key_len[:n_keys].max())
            scores, shifts = _shift_scores(q, keys[:n_keys, :kmax])
            best = scores.max(axis=1)
            lens = key_len[:n_keys]
            if align_cond is None:  # DNABERT: max(min_len - 1, half the shorter motif)
                cond = np.maximum(min_len - 1, 0.5 * np.minimum(q.size, lens))
            else:
                cond = np.full(n_keys, align_cond, dtype=float)
            ok = best >= cond
            if ok.any():
                top = best[ok].max()
                chosen = np.flatnonzero(ok & (best == top))
                if not align_all_ties:
                    chosen = chosen[:1]
                for k in chosen:
                    rows.append((i, key_index[k], _pick_shift(scores[k], shifts, q.size, int(lens[k]))))
                continue
        keys[n_keys, : q.size] = q
        key_len[n_keys] = q.size
        key_index.append(i)
        rows.append((i, i, 0))
    table = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    return pd.DataFrame({"candidate": table[:, 0], "key": table[:, 1], "shift": table[:, 2]})


# --------------------------------------------------------------------------- 4. windows


def window_starts(start: np.ndarray, length: np.ndarray, window: int) -> np.ndarray:
    """Start of the ``window``-bp window centred on ``[start, start + length)`` (DNABERT's make_window).

    The extra base of an odd difference goes to the right, as in DNABERT.
    """
    return np.asarray(start) - (window - np.asarray(length)) // 2


def window_inside(wstart: np.ndarray, seq_len: np.ndarray, window: int, strict_end: bool = True) -> np.ndarray:
    """Whether each window lies in its sequence (DNABERT: ``start >= 0`` and ``end < length``)."""
    wend = np.asarray(wstart) + window
    inside_end = wend < seq_len if strict_end else wend <= seq_len
    return (np.asarray(wstart) >= 0) & inside_end


# --------------------------------------------------------------------------- the pipeline


def discover(
    pos_seqs: Sequence[str],
    neg_seqs: Sequence[str],
    pos_scores: Sequence[np.ndarray] | np.ndarray,
    settings: MotifSettings | None = None,
) -> MotifResult:
    """Motifs from attention, DNABERT's ``motif_analysis`` (steps 1-4 of the module docstring).

    ``pos_scores`` holds one score per base of each positive sequence (a list of
    1-D arrays, or an ``(n, length)`` array for equal lengths).
    """
    s = settings or MotifSettings()
    t0 = time.perf_counter()
    pos = _pack(pos_seqs, "pos_seqs")
    neg = _pack(neg_seqs, "neg_seqs")
    flat, _ = _pack_scores(pos_scores, pos.lengths, "pos_scores")
    stats: dict[str, int] = {"positives": pos.n, "negatives": neg.n}
    log.info("motifs: %d positive and %d negative sequences", pos.n, neg.n)

    # 1. high-attention regions -> candidates
    regions = _regions(flat, pos.lengths, s.min_len, s.min_factor)
    starts = pos.offsets[regions["seq"].to_numpy()] + regions["start"].to_numpy()
    ends = pos.offsets[regions["seq"].to_numpy()] + regions["end"].to_numpy()
    buf = pos.buf
    texts = [buf[a:b].decode("ascii") for a, b in zip(starts.tolist(), ends.tolist())]
    cand_of_region, uniques = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    candidates = [str(u) for u in uniques]
    stats["regions"] = len(regions)
    stats["candidates"] = len(candidates)
    log.info("motifs: %d high-attention regions, %d distinct candidates (%.1f s)", len(regions), len(candidates),
             time.perf_counter() - t0)

    # 2. enrichment
    both = _concat(pos, neg)
    p_idx, seq_idx = _occurrences(both, candidates, unique=not s.allow_multi_match)
    is_pos = seq_idx < pos.n
    pos_count = np.bincount(p_idx[is_pos], minlength=len(candidates)).astype(np.int64)
    neg_count = np.bincount(p_idx[~is_pos], minlength=len(candidates)).astype(np.int64)
    pvalues = hypergeom_pvalues(pos_count, neg_count, pos.n, neg.n)
    padj = adjust_pvalues(pvalues, s.p_adjust)
    significant = padj < s.pval_cutoff
    stats["significant"] = int(significant.sum())
    log.info("motifs: %d candidates with adjusted p < %g (%.1f s)", stats["significant"], s.pval_cutoff,
             time.perf_counter() - t0)

    # 3. merge the significant candidates (in first-seen order, as DNABERT's dict)
    sig = np.flatnonzero(significant)
    merge = merge_motifs([candidates[i] for i in sig], s.min_len, s.align_all_ties, s.align_cond)
    m_cand = sig[merge["candidate"].to_numpy()]
    m_key = sig[merge["key"].to_numpy()]
    m_shift = merge["shift"].to_numpy()
    stats["keys"] = int(np.unique(m_key).size)
    log.info("motifs: merged into %d key motifs (%.1f s)", stats["keys"], time.perf_counter() - t0)

    # instances: every region of each merged candidate, moved to its key's frame
    region_order = np.argsort(cand_of_region, kind="stable")
    per_cand = np.bincount(cand_of_region, minlength=len(candidates))
    cand_first = np.concatenate([[0], np.cumsum(per_cand)[:-1]])
    reps = per_cand[m_cand]
    row = np.repeat(np.arange(m_cand.size), reps)
    within = np.arange(row.size) - np.repeat(np.cumsum(reps) - reps, reps)
    region = region_order[cand_first[m_cand][row] + within]
    key_len = np.fromiter((len(candidates[k]) for k in m_key), dtype=np.int64, count=m_key.size)
    inst_key = m_key[row]
    inst_seq = regions["seq"].to_numpy()[region]
    inst_start = regions["start"].to_numpy()[region] + m_shift[row]
    inst_len = key_len[row]

    # 4. windows
    wstart = window_starts(inst_start, inst_len, s.window)
    inside = window_inside(wstart, pos.lengths[inst_seq], s.window, s.strict_window_end)
    inst_key, inst_seq, wstart = inst_key[inside], inst_seq[inside], wstart[inside]
    stats["instances"] = int(inside.sum())
    keys_all, key_counts = np.unique(inst_key, return_counts=True)
    kept = keys_all[key_counts >= s.min_n_motif]
    stats["motifs"] = int(kept.size)

    # sort motifs: most windows first (or smallest seed p-value first), ties by the other, then the seed
    n_win = dict(zip(keys_all.tolist(), key_counts.tolist()))
    if s.sort_by == "instances":
        kept = sorted(kept.tolist(), key=lambda k: (-n_win[k], padj[k], pvalues[k], candidates[k]))
    else:
        kept = sorted(kept.tolist(), key=lambda k: (padj[k], pvalues[k], -n_win[k], candidates[k]))
    rank = {k: r for r, k in enumerate(kept)}
    keep_inst = np.isin(inst_key, kept)
    inst_key, inst_seq, wstart = inst_key[keep_inst], inst_seq[keep_inst], wstart[keep_inst]
    motif_row = np.fromiter((rank[k] for k in inst_key.tolist()), dtype=np.int64, count=inst_key.size)
    order = np.argsort(motif_row, kind="stable")
    motif_row, inst_seq, wstart = motif_row[order], inst_seq[order], wstart[order]

    w = s.window
    gidx = pos.offsets[inst_seq][:, None] + wstart[:, None] + np.arange(w)[None, :]
    win_codes = pos.codes[gidx]  # (n_instances, window)
    flat_idx = ((motif_row[:, None] * w + np.arange(w)[None, :]) * 5 + win_codes).ravel()
    counts = np.bincount(flat_idx, minlength=len(kept) * w * 5).reshape(len(kept), w, 5)[:, :, :4]
    counts = counts.transpose(0, 2, 1).astype(float)  # (motifs, 4, window)

    merged_into: dict[int, list[str]] = {}
    for c, k in zip(m_cand.tolist(), m_key.tolist()):
        merged_into.setdefault(k, []).append(candidates[c])
    n_seq = pd.Series(inst_seq).groupby(motif_row).nunique().reindex(range(len(kept)), fill_value=0).to_numpy()
    motifs = [
        Motif(
            id=f"motif_{r + 1}", seed=candidates[k], counts=counts[r], n_instances=int(n_win[k]),
            n_sequences=int(n_seq[r]), pos_count=int(pos_count[k]), neg_count=int(neg_count[k]),
            pvalue=float(pvalues[k]), padj=float(padj[k]), merged=tuple(merged_into.get(k, ())),
        )
        for r, k in enumerate(kept)
    ]
    window_text = [buf[a:a + w].decode("ascii") for a in (pos.offsets[inst_seq] + wstart).tolist()]
    instances = pd.DataFrame({
        "motif": [motifs[r].id for r in motif_row.tolist()],
        "seq_index": inst_seq,
        "start": wstart,
        "end": wstart + w,
        "strand": "+",
        "sequence": window_text,
    })
    key_name = np.full(len(candidates), "", dtype=object)
    key_name[m_cand] = [candidates[k] for k in m_key]  # with ties, the last key it went to
    cand_table = pd.DataFrame({
        "sequence": candidates,
        "length": [len(c) for c in candidates],
        "regions": per_cand,
        "pos_count": pos_count,
        "neg_count": neg_count,
        "pvalue": pvalues,
        "padj": padj,
        "significant": significant,
        "key": key_name,
    })
    acgt = np.bincount(pos.codes, minlength=5)[:4].astype(float)
    background = acgt / acgt.sum() if acgt.sum() else np.full(4, 0.25)
    log.info("motifs: %d windows of %d bp, %d motifs with >= %d windows (%.1f s)", stats["instances"], w,
             len(motifs), s.min_n_motif, time.perf_counter() - t0)
    return MotifResult(motifs, instances, cand_table, pos.n, neg.n, s, background, stats)


# --------------------------------------------------------------------------- outputs


def summary_table(motifs: Sequence[Motif]) -> pd.DataFrame:
    """One row per motif: id, seed, consensus, width, instances, sequences, merged, pos/neg counts, p, adjusted p."""
    return pd.DataFrame({
        "motif": [m.id for m in motifs],
        "seed": [m.seed for m in motifs],
        "consensus": [m.consensus for m in motifs],
        "width": [m.width for m in motifs],
        "instances": [m.n_instances for m in motifs],
        "sequences": [m.n_sequences for m in motifs],
        "merged": [len(m.merged) for m in motifs],
        "pos_count": [m.pos_count for m in motifs],
        "neg_count": [m.neg_count for m in motifs],
        "pvalue": [m.pvalue for m in motifs],
        "padj": [m.padj for m in motifs],
    })


def write_summary(motifs: Sequence[Motif], path: PathLike) -> None:
    """The :func:`summary_table` as TSV, written atomically."""
    with atomic_write(path) as handle:
        summary_table(motifs).to_csv(handle, sep="\t", index=False, float_format="%.6g")


def write_meme(motifs: Sequence[Motif | MotifMatrix], path: PathLike, background: np.ndarray | None = None) -> None:
    """Minimal MEME format (version 4): one ``letter-probability matrix`` per motif, written atomically.

    ``MOTIF <id> <seed or name>``; ``nsites`` is the motif's number of windows
    and ``E`` its seed's adjusted p-value (for a :class:`MotifMatrix`, 1 and 0).
    ``background``: A, C, G, T frequencies (default uniform).
    """
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    if bg.shape != (4,) or not np.isclose(bg.sum(), 1.0) or (bg < 0).any():
        raise InputError(path, f"background must be 4 frequencies summing to 1, got {bg}", field="background")
    lines = [
        "MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
        "Background letter frequencies",
        " ".join(f"{a} {f:.4f}" for a, f in zip(ALPHABET, bg)), "",
    ]
    for m in motifs:
        if isinstance(m, Motif):
            name, probs, nsites, evalue = m.seed, m.probs, m.n_instances, m.padj
        else:
            name, probs, nsites, evalue = m.name, np.asarray(m.probs, dtype=float), 1, 0.0
        name = re.sub(r"\s+", "_", name)
        lines.append(f"MOTIF {m.id} {name}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {probs.shape[1]} nsites= {nsites} E= {evalue:.3g}")
        lines.extend(" ".join(f"{v:.6f}" for v in col) for col in probs.T)
        lines.append("")
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")


def read_meme(path: PathLike) -> dict[str, np.ndarray]:
    """Motif id -> ``(4, width)`` matrix, read with memelite's MEME reader (the first word of each MOTIF line)."""
    from memelite.io import read_meme as _read

    return {key.split()[0]: np.asarray(pwm) for key, pwm in _read(str(path)).items()}


def instances_table(result: MotifResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """The windows of every motif: motif, seq_index, [name], start, end, strand, sequence."""
    table = result.instances.copy()
    if names is not None:
        names = list(names)
        if len(names) != result.n_pos:
            raise InputError(None, f"{len(names)} names for {result.n_pos} positive sequences", field="names")
        table.insert(2, "name", [names[i] for i in table["seq_index"].tolist()])
    return table


def genomic_instances(result: MotifResult, coords: pd.DataFrame) -> pd.DataFrame:
    """The windows in genome coordinates, as BED6 columns (chrom, start, end, name, score, strand).

    ``coords`` has one row per positive sequence, in order, with ``chrom`` and
    ``start`` (0-based genomic start of the sequence) and optionally
    ``strand`` ('-' when the sequence is the reverse complement of the genome).
    """
    for column in ("chrom", "start"):
        if column not in coords.columns:
            raise InputError(None, f"coordinates need a '{column}' column", field="coords")
    if len(coords) != result.n_pos:
        raise InputError(None, f"{len(coords)} coordinate rows for {result.n_pos} positive sequences", field="coords")
    inst = result.instances
    seq = inst["seq_index"].to_numpy()
    chrom = coords["chrom"].to_numpy()[seq]
    g0 = coords["start"].to_numpy(dtype=np.int64)[seq]
    strand = coords["strand"].astype(str).to_numpy()[seq] if "strand" in coords.columns else np.full(seq.size, "+")
    minus = strand == "-"
    if minus.any():
        if "end" not in coords.columns:
            raise InputError(None, "minus-strand sequences need an 'end' column", field="coords")
        length = coords["end"].to_numpy(dtype=np.int64)[seq] - g0
    else:
        length = np.zeros(seq.size, dtype=np.int64)
    s, e = inst["start"].to_numpy(), inst["end"].to_numpy()
    start = np.where(minus, g0 + length - e, g0 + s)
    end = np.where(minus, g0 + length - s, g0 + e)
    bed = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "name": inst["motif"].to_numpy(),
                        "score": 0, "strand": np.where(minus, "-", "+")})
    return bed.sort_values(["chrom", "start", "end", "name"], kind="stable").reset_index(drop=True)


def write_instances(
    result: MotifResult, path: PathLike, names: Sequence[str] | None = None,
    bed_path: PathLike | None = None, coords: pd.DataFrame | None = None,
) -> None:
    """Write the windows as TSV (see :func:`instances_table`) and, with ``coords``, as BED to ``bed_path``."""
    with atomic_write(path) as handle:
        instances_table(result, names).to_csv(handle, sep="\t", index=False)
    if bed_path is not None:
        if coords is None:
            raise InputError(bed_path, "a BED file needs the positives' genomic coordinates", field="coords")
        with atomic_write(bed_path) as handle:
            genomic_instances(result, coords).to_csv(handle, sep="\t", index=False, header=False)


# --------------------------------------------------------------------------- JASPAR and TOMTOM


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
        probs = _probabilities(counts)
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


# --------------------------------------------------------------------------- logos


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
        title = f"{m.id}  n={m.n_instances}  seed {m.seed}" if isinstance(m, Motif) else f"{m.id} {m.name}"
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


# --------------------------------------------------------------------------- synthetic data (tests, benchmarks)


def synthetic_attention_data(
    probs: np.ndarray, n_pos: int, n_neg: int, length: int = 101, core: int = 6, amplitude: float = 3.0,
    jitter: int = 1, seed: int = 0,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Random sequences with one site sampled from ``probs`` (``(4, width)``) planted in each positive.

    Attention is smooth noise plus ``amplitude`` over the ``core`` most
    informative consecutive columns of the site (edges jittered by up to
    ``jitter`` bases), mimicking a model that attends to a motif's core.
    Negatives are random with the same base composition. Returns
    ``(pos_seqs, neg_seqs, pos_scores (n_pos, length), site_starts)``.
    """
    rng = np.random.default_rng(seed)
    probs = np.asarray(probs, dtype=float)
    width = probs.shape[1]
    if width > length:
        raise InputError(None, f"motif of width {width} does not fit in {length} bp", field="length")
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    pos = rng.integers(0, 4, size=(n_pos, length))
    neg = rng.integers(0, 4, size=(n_neg, length))
    cum = np.cumsum(probs.T, axis=1)
    cum[:, -1] = 1.0
    sites = (rng.random((n_pos, width, 1)) > cum[None]).sum(axis=2)
    site_start = rng.integers(0, length - width + 1, size=n_pos)
    cols = site_start[:, None] + np.arange(width)[None, :]
    pos[np.arange(n_pos)[:, None], cols] = sites
    ic = information_content(probs)
    core = min(core, width)
    core_start = int(np.argmax(np.convolve(ic, np.ones(core), mode="valid")))
    noise = rng.gamma(2.0, 0.5, size=(n_pos, length + 4))
    scores = np.lib.stride_tricks.sliding_window_view(noise, 5, axis=1).mean(axis=2)  # k-mer-like smoothing
    scores = scores - scores.min(axis=1, keepdims=True) + 0.01  # near-zero minimum, as softmax attention
    lo = site_start + core_start + rng.integers(-jitter, jitter + 1, size=n_pos)
    hi = site_start + core_start + core + rng.integers(-jitter, jitter + 1, size=n_pos)
    idx = np.arange(length)[None, :]
    scores = scores + amplitude * ((idx >= lo[:, None]) & (idx < hi[:, None]))
    pos_seqs = [row.tobytes().decode("ascii") for row in letters[pos]]
    neg_seqs = [row.tobytes().decode("ascii") for row in letters[neg]]
    return pos_seqs, neg_seqs, scores, site_start
