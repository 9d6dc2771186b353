"""DNABERT's motif discovery from per-base attention (``motif/find_motifs.py`` -> ``motif_utils.motif_analysis``), vectorised.

:func:`discover` runs the four steps, each on flat arrays for all sequences at once:

1. **High-attention regions.** In each positive sequence, the positions whose
   score is above the sequence's mean *and* above ``min_factor`` (10) times its
   minimum; contiguous runs of at least ``min_len`` bases (``find_high_attention``).
   A region's (upper-cased) sequence is a *candidate* motif; each region is an
   instance of its candidate.
2. **Enrichment.** For every distinct candidate, the number of positive and of
   negative sequences that contain it (exact substring; DNABERT uses
   Aho-Corasick, here exact 2-bit hashing, :mod:`dnabert.interpret.motifs.pattern_search`).
   Hypergeometric test ``p = hypergeom.sf(x - 1, N, K, n)`` with ``N`` all
   sequences, ``K`` positives, ``n`` sequences containing the candidate, ``x``
   positives among them (each sequence counted once per candidate); Benjamini-Hochberg over all candidates
   (:mod:`dnabert.interpret.motifs.pvalues`); keep adjusted ``p < pval_cutoff``.
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
* ``allow_multi_match``: DNABERT then counts every occurrence in the hypergeometric
  test itself, so ``n`` can exceed ``N`` (a candidate twice in every sequence): scipy
  returns NaN, and the NaN made every Benjamini-Hochberg value NaN, so no motif came
  out. Here the test always counts sequences, each once per candidate;
  ``allow_multi_match`` adds the occurrence counts (``pos_occurrences``,
  ``neg_occurrences``) to the candidate table. NaN p-values, should any arise, stay
  NaN and are left out of the adjustment (:func:`~dnabert.interpret.motifs.pvalues.bh_adjust`).
* ``strict_window_end=True`` keeps DNABERT's bound ``window end < sequence
  length`` (it drops a window that ends exactly at the sequence end); ``False``
  allows it.
* Motifs are sorted by number of windows (then the seed's adjusted p-value;
  or the other way round with ``sort_by="pvalue"``) and named ``motif_1``,
  ``motif_2``, ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnabert.interpret.motifs.model import Motif, MotifResult, MotifSettings
from dnabert.interpret.motifs.pattern_search import Packed, concat, occurrences, pack
from dnabert.interpret.motifs.pvalues import adjust_pvalues, hypergeom_pvalues
from dnabert.io import InputError

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _Candidates:
    """Step 1: the high-attention regions and the distinct candidate sequences they hold."""

    regions: pd.DataFrame  # seq, start, end
    of_region: np.ndarray  # the candidate of each region
    sequences: list[str]  # the distinct region sequences, in first-seen order (as DNABERT's dict)
    per_candidate: np.ndarray  # the number of regions of each candidate


@dataclass(frozen=True)
class _Enrichment:
    """Step 2, per candidate: positives and negatives containing it, its p-value, adjusted p-value, significance."""

    pos_count: np.ndarray
    neg_count: np.ndarray
    pvalues: np.ndarray
    padj: np.ndarray
    significant: np.ndarray
    occurrences: tuple[np.ndarray, np.ndarray] | None = None  # every occurrence in positives, negatives


@dataclass(frozen=True)
class _Merge:
    """Step 3, one row per merge in merge order: the candidate, its key and the shift onto the key's frame."""

    candidate: np.ndarray
    key: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class _Windows:
    """Step 4, one row per window: its owner (the key candidate; once ranked, the motif's row), sequence, start."""

    owner: np.ndarray
    seq: np.ndarray
    start: np.ndarray


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
    pos = pack(pos_seqs, "pos_seqs")
    neg = pack(neg_seqs, "neg_seqs")
    flat, _ = _pack_scores(pos_scores, pos.lengths, "pos_scores")
    stats: dict[str, int] = {"positives": pos.n, "negatives": neg.n}
    log.info("motifs: %d positive and %d negative sequences", pos.n, neg.n)

    cands = _find_candidates(pos, flat, s)
    candidates = cands.sequences
    stats["regions"] = len(cands.regions)
    stats["candidates"] = len(candidates)
    log.info("motifs: %d high-attention regions, %d distinct candidates (%.1f s)", len(cands.regions),
             len(candidates), time.perf_counter() - t0)

    enrichment = _enrich(pos, neg, candidates, s)
    stats["significant"] = int(enrichment.significant.sum())
    log.info("motifs: %d candidates with adjusted p < %g (%.1f s)", stats["significant"], s.pval_cutoff,
             time.perf_counter() - t0)

    merge = _merge_significant(candidates, enrichment.significant, s)
    stats["keys"] = int(np.unique(merge.key).size)
    log.info("motifs: merged into %d key motifs (%.1f s)", stats["keys"], time.perf_counter() - t0)

    windows = _key_windows(pos, cands, merge, s)
    stats["instances"] = int(windows.owner.size)
    keys_all, key_counts = np.unique(windows.owner, return_counts=True)
    n_win = dict(zip(keys_all.tolist(), key_counts.tolist()))
    kept = _rank_keys(keys_all[key_counts >= s.min_n_motif], n_win, enrichment, candidates, s.sort_by)
    stats["motifs"] = len(kept)
    rows = _motif_windows(windows, kept)

    motifs = _motifs(pos, rows, kept, n_win, candidates, enrichment, merge, s.window)
    instances = _instance_table(pos, rows, motifs, s.window)
    log.info("motifs: %d windows of %d bp, %d motifs with >= %d windows (%.1f s)", stats["instances"], s.window,
             len(motifs), s.min_n_motif, time.perf_counter() - t0)
    return MotifResult(motifs, instances, _candidate_table(cands, enrichment, merge), pos.n, neg.n, s,
                       _background(pos), stats)


def _find_candidates(pos: Packed, flat: np.ndarray, s: MotifSettings) -> _Candidates:
    """Step 1: the high-attention regions of the positives and their distinct sequences."""
    regions = _regions(flat, pos.lengths, s.min_len, s.min_factor)
    starts = pos.offsets[regions["seq"].to_numpy()] + regions["start"].to_numpy()
    ends = pos.offsets[regions["seq"].to_numpy()] + regions["end"].to_numpy()
    texts = [pos.buf[a:b].decode("ascii") for a, b in zip(starts.tolist(), ends.tolist())]
    of_region, uniques = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    sequences = [str(u) for u in uniques]
    return _Candidates(regions, of_region, sequences, np.bincount(of_region, minlength=len(sequences)))


def _counts(p_idx: np.ndarray, seq_idx: np.ndarray, n_pos: int, n_candidates: int) -> tuple[np.ndarray, np.ndarray]:
    is_pos = seq_idx < n_pos
    return (np.bincount(p_idx[is_pos], minlength=n_candidates).astype(np.int64),
            np.bincount(p_idx[~is_pos], minlength=n_candidates).astype(np.int64))  # fmt: skip


def _enrich(pos: Packed, neg: Packed, candidates: list[str], s: MotifSettings) -> _Enrichment:
    """Step 2: each candidate's positive and negative counts, hypergeometric p-value and its adjustment.

    The test counts sequences, each once per candidate (``allow_multi_match`` only adds
    the occurrence counts to the candidate table).
    """
    both = concat(pos, neg)
    p_idx, seq_idx = occurrences(both, candidates, unique=True)
    pos_count, neg_count = _counts(p_idx, seq_idx, pos.n, len(candidates))
    pvalues = hypergeom_pvalues(pos_count, neg_count, pos.n, neg.n)
    padj = adjust_pvalues(pvalues, s.p_adjust)
    occurrence_counts = None
    if s.allow_multi_match:
        occurrence_counts = _counts(*occurrences(both, candidates, unique=False), pos.n, len(candidates))
    return _Enrichment(pos_count, neg_count, pvalues, padj, padj < s.pval_cutoff, occurrence_counts)


def _merge_significant(candidates: list[str], significant: np.ndarray, s: MotifSettings) -> _Merge:
    """Step 3: the significant candidates merged (in first-seen order, as DNABERT's dict); indices into all."""
    sig = np.flatnonzero(significant)
    merge = merge_motifs([candidates[i] for i in sig], s.min_len, s.align_all_ties, s.align_cond)
    return _Merge(sig[merge["candidate"].to_numpy()], sig[merge["key"].to_numpy()], merge["shift"].to_numpy())


def _key_windows(pos: Packed, cands: _Candidates, merge: _Merge, s: MotifSettings) -> _Windows:
    """Step 4: every region of each merged candidate moved to its key's frame, centred on a window that fits."""
    region_order = np.argsort(cands.of_region, kind="stable")
    per_cand = cands.per_candidate
    cand_first = np.concatenate([[0], np.cumsum(per_cand)[:-1]])
    reps = per_cand[merge.candidate]
    row = np.repeat(np.arange(merge.candidate.size), reps)
    within = np.arange(row.size) - np.repeat(np.cumsum(reps) - reps, reps)
    region = region_order[cand_first[merge.candidate][row] + within]
    key_len = np.fromiter((len(cands.sequences[k]) for k in merge.key), dtype=np.int64, count=merge.key.size)
    inst_key = merge.key[row]
    inst_seq = cands.regions["seq"].to_numpy()[region]
    inst_start = cands.regions["start"].to_numpy()[region] + merge.shift[row]
    inst_len = key_len[row]
    wstart = window_starts(inst_start, inst_len, s.window)
    inside = window_inside(wstart, pos.lengths[inst_seq], s.window, s.strict_window_end)
    return _Windows(inst_key[inside], inst_seq[inside], wstart[inside])


def _rank_keys(keys: np.ndarray, n_win: dict[int, int], enrichment: _Enrichment, candidates: list[str],
               sort_by: str) -> list[int]:
    """The kept keys in motif order: most windows first (or smallest seed p-value first), ties by the other, then the seed."""
    padj, pvalues = enrichment.padj, enrichment.pvalues
    if sort_by == "instances":
        return sorted(keys.tolist(), key=lambda k: (-n_win[k], padj[k], pvalues[k], candidates[k]))
    return sorted(keys.tolist(), key=lambda k: (padj[k], pvalues[k], -n_win[k], candidates[k]))


def _motif_windows(windows: _Windows, kept: list[int]) -> _Windows:
    """The windows of the kept keys, owned by their motif's row (the key's rank), in motif order."""
    rank = {k: r for r, k in enumerate(kept)}
    keep = np.isin(windows.owner, kept)
    key, seq, start = windows.owner[keep], windows.seq[keep], windows.start[keep]
    motif_row = np.fromiter((rank[k] for k in key.tolist()), dtype=np.int64, count=key.size)
    order = np.argsort(motif_row, kind="stable")
    return _Windows(motif_row[order], seq[order], start[order])


def _motifs(pos: Packed, rows: _Windows, kept: list[int], n_win: dict[int, int], candidates: list[str],
            enrichment: _Enrichment, merge: _Merge, w: int) -> list[Motif]:
    """One :class:`Motif` per kept key: the letter counts of its windows and its seed's statistics."""
    gidx = pos.offsets[rows.seq][:, None] + rows.start[:, None] + np.arange(w)[None, :]
    win_codes = pos.codes[gidx]  # (n_instances, window)
    flat_idx = ((rows.owner[:, None] * w + np.arange(w)[None, :]) * 5 + win_codes).ravel()
    counts = np.bincount(flat_idx, minlength=len(kept) * w * 5).reshape(len(kept), w, 5)[:, :, :4]
    counts = counts.transpose(0, 2, 1).astype(float)  # (motifs, 4, window)

    merged_into: dict[int, list[str]] = {}
    for c, k in zip(merge.candidate.tolist(), merge.key.tolist()):
        merged_into.setdefault(k, []).append(candidates[c])
    n_seq = pd.Series(rows.seq).groupby(rows.owner).nunique().reindex(range(len(kept)), fill_value=0).to_numpy()
    e = enrichment
    return [
        Motif(
            id=f"motif_{r + 1}", seed=candidates[k], counts=counts[r], n_instances=int(n_win[k]),
            n_sequences=int(n_seq[r]), pos_count=int(e.pos_count[k]), neg_count=int(e.neg_count[k]),
            pvalue=float(e.pvalues[k]), padj=float(e.padj[k]), merged=tuple(merged_into.get(k, ())),
        )
        for r, k in enumerate(kept)
    ]


def _instance_table(pos: Packed, rows: _Windows, motifs: list[Motif], w: int) -> pd.DataFrame:
    """:attr:`MotifResult.instances`: one row per window of each motif."""
    window_text = [pos.buf[a:a + w].decode("ascii") for a in (pos.offsets[rows.seq] + rows.start).tolist()]
    return pd.DataFrame({
        "motif": [motifs[r].id for r in rows.owner.tolist()],
        "seq_index": rows.seq,
        "start": rows.start,
        "end": rows.start + w,
        "strand": "+",
        "sequence": window_text,
    })


def _candidate_table(cands: _Candidates, enrichment: _Enrichment, merge: _Merge) -> pd.DataFrame:
    """:attr:`MotifResult.candidates`: one row per distinct candidate with its counts, p-values and key."""
    candidates = cands.sequences
    key_name = np.full(len(candidates), "", dtype=object)
    key_name[merge.candidate] = [candidates[k] for k in merge.key]  # with ties, the last key it went to
    table = pd.DataFrame({
        "sequence": candidates,
        "length": [len(c) for c in candidates],
        "regions": cands.per_candidate,
        "pos_count": enrichment.pos_count,
        "neg_count": enrichment.neg_count,
        "pvalue": enrichment.pvalues,
        "padj": enrichment.padj,
        "significant": enrichment.significant,
        "key": key_name,
    })
    if enrichment.occurrences is not None:
        table.insert(5, "pos_occurrences", enrichment.occurrences[0])
        table.insert(6, "neg_occurrences", enrichment.occurrences[1])
    return table


def _background(pos: Packed) -> np.ndarray:
    """The positives' A, C, G, T frequencies (uniform without any)."""
    acgt = np.bincount(pos.codes, minlength=5)[:4].astype(float)
    return acgt / acgt.sum() if acgt.sum() else np.full(4, 0.25)
