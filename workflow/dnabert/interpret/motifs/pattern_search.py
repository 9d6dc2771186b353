"""Which sequences contain which patterns, exactly, for thousands of patterns at once (motif enrichment's counting).

DNABERT counts the sequences containing each candidate with Aho-Corasick. Here:
sequences are 2-bit encoded, every window of each candidate length is hashed
exactly (rolling 2-bit codes, one uint64 per 32 bases, longer windows as tuples
of overlapping 32-base chunks), and the window hashes are looked up in the
candidates' (a direct table for lengths <= 10, a 10-mer prefix filter then
``searchsorted`` above). Candidates with letters other than ACGT fall back to
Python's ``in``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dnabert.io import InputError

log = logging.getLogger(__name__)

_CODE = np.full(256, 4, dtype=np.uint8)  # byte -> 0-3 for ACGT (either case), 4 for anything else
for _i, _c in enumerate(b"ACGT"):
    _CODE[_c] = _i
    _CODE[_c + 32] = _i  # lower case
_DIRECT_MAX = 10  # candidate lengths up to this use a direct 4^L lookup table
_CHUNK = 32  # bases per uint64


# --------------------------------------------------------------------------- packed sequences


def _as_list(seqs: Sequence[str], what: str) -> list[str]:
    if isinstance(seqs, str):
        raise InputError(None, "expected a list of sequences, got one string", field=what)
    out = list(seqs)
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise InputError(None, f"sequence {i} is {type(s).__name__}, not str", field=what)
    return out


@dataclass(frozen=True)
class Packed:
    """Sequences as one flat code array: 0-3 for ACGT, 4 for anything else and one separator after each."""

    seqs: list[str]  # upper-case
    buf: bytes  # the upper-case text, each sequence followed by a newline
    codes: np.ndarray  # uint8, len(buf)
    offsets: np.ndarray  # int64 start of each sequence in buf, plus the end
    lengths: np.ndarray  # int64

    @property
    def n(self) -> int:
        return len(self.seqs)


def pack(seqs: Sequence[str], what: str) -> Packed:
    """``seqs`` upper-cased and packed; ``what`` names them in errors (one string, non-str, non-ASCII)."""
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
    return Packed(seqs, buf, codes, offsets, lengths)


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: numpy 2.4's hash-based ``np.unique`` is ~100x slower on millions)."""
    values = np.sort(np.asarray(values).ravel())
    if values.size == 0:
        return values
    keep = np.empty(values.size, dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def concat(a: Packed, b: Packed) -> Packed:
    """The sequences of ``a`` followed by those of ``b``."""
    offsets = np.concatenate([a.offsets[:-1], b.offsets + a.offsets[-1]])
    return Packed(a.seqs + b.seqs, a.buf + b.buf, np.concatenate([a.codes, b.codes]), offsets,
                  np.concatenate([a.lengths, b.lengths]))


# --------------------------------------------------------------------------- counting


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


def occurrences(packed: Packed, patterns: list[str], unique: bool = True) -> tuple[np.ndarray, np.ndarray]:
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
    packed = pack(seqs, "seqs")
    patterns = [p.upper() for p in patterns]
    p, _ = occurrences(packed, patterns, unique=not allow_multi_match)
    return np.bincount(p, minlength=len(patterns)).astype(np.int64)
