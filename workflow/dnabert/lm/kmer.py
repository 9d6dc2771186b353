"""DNABERT k-mer tokenisation: vocabulary, vectorised encoding, k-mer strings, HF tokenizer.

Token ids are exactly those of DNABERT's released ``vocab.txt`` files: ``[PAD] [UNK]
[CLS] [SEP] [MASK]`` (ids 0-4), then every k-mer in ``itertools.product('ATCG')``
order (ids 5 ...). A sequence becomes ``[CLS]`` + its overlapping k-mers + ``[SEP]``;
lower case is accepted and any k-mer containing a base other than A, C, G, T
becomes ``[UNK]``. Tokenisation is numpy throughout: bases become 2-bit codes in
ATCG order and k-mer ids are built with k whole-array shift/or passes, never a
Python loop over k-mers.

A model takes at most 512 tokens (510 k-mers). Longer input follows the caller's
``overflow`` policy:

``"error"``     raise :class:`SequenceTooLongError` (the default);
``"truncate"``  keep the first 510 k-mers (the first ``510 + k - 1`` bases);
``"split"``     consecutive pieces of 510 k-mers, each with its own [CLS]/[SEP];
                piece windows overlap by ``k - 1`` bases so every k-mer occurs
                exactly once (:attr:`Batch.sequence_index` maps pieces back).

:func:`save_hf_tokenizer` writes a Hugging Face tokenizer next to a model so that
plain ``AutoTokenizer.from_pretrained(model_dir)`` (no ``trust_remote_code``, no
import of this package) tokenizes raw DNA strings to the same ids; see
:func:`build_hf_tokenizer` for how overlapping k-mers are made by a serialisable
``tokenizers`` pipeline.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from dnabert.io import InputError, PathLike, atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedTokenizerFast

log = logging.getLogger(__name__)

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
N_SPECIAL = len(SPECIAL_TOKENS)
BASES = "ATCG"  # DNABERT's k-mer order: itertools.product('ATCG')
MAX_TOKENS = 512
MAX_KMERS = MAX_TOKENS - 2
MIN_K, MAX_K = 1, 7  # ids must fit in uint16; DNABERT released k = 3..6
INVALID_CODE = 4  # code of any byte that is not A/C/G/T (either case)

Overflow = Literal["error", "truncate", "split"]
OVERFLOW_POLICIES: tuple[str, ...] = ("error", "truncate", "split")

# byte -> 2-bit code in ATCG order; everything else -> INVALID_CODE (bit 2 set).
BASE_CODES = np.full(256, INVALID_CODE, dtype=np.uint8)
for _code, _base in enumerate(BASES):
    BASE_CODES[ord(_base)] = BASE_CODES[ord(_base.lower())] = _code
BASE_CODES.setflags(write=False)
_TRANSLATE = BASE_CODES.tobytes()  # bytes.translate table: much faster than a numpy lookup
_CODE_TO_BASE = np.frombuffer(BASES.encode("ascii"), dtype=np.uint8)


class SequenceTooLongError(ValueError):
    """A sequence has more k-mers than fit the model under the ``"error"`` policy."""


# --------------------------------------------------------------------------- vocabulary


def check_k(k: int) -> int:
    """Return ``k`` if it is a supported k-mer size, else raise ValueError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not MIN_K <= k <= MAX_K:
        raise ValueError(f"k must be an integer in {MIN_K}..{MAX_K} (DNABERT: 3..6), got {k!r}")
    return int(k)


@lru_cache(maxsize=None)
def _vocab_tuple(k: int) -> tuple[str, ...]:
    kmers = ("".join(p) for p in itertools.product(BASES, repeat=k))
    return SPECIAL_TOKENS + tuple(kmers)


def vocab(k: int) -> list[str]:
    """DNABERT's vocabulary for ``k``: special tokens, then k-mers in product('ATCG') order."""
    return list(_vocab_tuple(check_k(k)))


def vocab_size(k: int) -> int:
    """Number of tokens in the k-mer vocabulary (``4**k + 5``)."""
    return 4 ** check_k(k) + N_SPECIAL


def write_vocab(path: PathLike, k: int) -> None:
    """Write a DNABERT-format ``vocab.txt`` (one token a line) atomically."""
    with atomic_write(path) as handle:
        handle.write("\n".join(vocab(k)) + "\n")


def read_vocab(path: PathLike) -> tuple[int, list[str]]:
    """Read and validate a DNABERT ``vocab.txt``; return ``(k, tokens)``.

    The file must hold the five special tokens first, then every k-mer over ACGT
    once. A different k-mer order is accepted with a warning (ids follow the file),
    but the numpy tokenizer in this module assumes the released order.
    """
    text = Path(path).read_text(encoding="utf-8")
    tokens = text.splitlines()
    if tokens and tokens[-1] == "":
        tokens.pop()
    for line, (token, expected) in enumerate(zip(tokens, SPECIAL_TOKENS), start=1):
        if token != expected:
            raise InputError(path, f"expected special token {expected}, found {token!r}", line=line, field="token")
    if len(tokens) <= N_SPECIAL:
        raise InputError(path, f"expected {N_SPECIAL} special tokens and k-mers, found {len(tokens)} lines")
    k = len(tokens[N_SPECIAL])
    try:
        check_k(k)
    except ValueError as err:
        raise InputError(path, str(err), line=N_SPECIAL + 1, field="token") from None
    seen: set[str] = set()
    for line, token in enumerate(tokens[N_SPECIAL:], start=N_SPECIAL + 1):
        if len(token) != k or set(token) - set(BASES):
            raise InputError(path, f"expected a {k}-mer over ACGT, found {token!r}", line=line, field="token")
        if token in seen:
            raise InputError(path, f"duplicate token {token!r}", line=line, field="token")
        seen.add(token)
    if len(seen) != 4**k:
        raise InputError(path, f"expected all {4**k} {k}-mers, found {len(seen)}")
    if tuple(tokens) != _vocab_tuple(k):
        log.warning("%s: k-mer order differs from DNABERT's product('ATCG') order; ids follow the file", path)
    return k, tokens


# --------------------------------------------------------------------------- encoding


def base_codes(seq: str | bytes | np.ndarray) -> np.ndarray:
    """Map a sequence to uint8 codes: A=0 T=1 C=2 G=3 (either case), anything else 4.

    Non-ASCII characters count as one invalid base each.
    """
    if isinstance(seq, np.ndarray):
        return BASE_CODES[seq.astype(np.uint8, copy=False)]
    if isinstance(seq, str):
        seq = seq.encode("ascii", "replace")
    return np.frombuffer(bytes(seq).translate(_TRANSLATE), dtype=np.uint8)


def window_ids(codes: np.ndarray, k: int) -> np.ndarray:
    """Token ids (uint16) of every k-mer of a code array, in order; [UNK] where invalid.

    k shift/or passes build the 2-bit k-mer index; k-mers touching an invalid base
    are then set to [UNK] (sparse marking when invalid bases are rare).
    """
    k = check_k(k)
    m = codes.size - k + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint16)
    bad = np.flatnonzero(codes >= INVALID_CODE)
    clean = codes & 3 if bad.size else codes
    index = clean[:m].astype(np.uint16)
    for j in range(1, k):
        index <<= 2
        index |= clean[j : j + m]
    index += N_SPECIAL
    if bad.size * 8 > m:  # many invalid bases: flag windows with k OR passes
        flags = np.zeros(m, dtype=np.uint8)
        for j in range(k):
            flags |= codes[j : j + m]
        index[(flags & INVALID_CODE) != 0] = UNK_ID
    elif bad.size:
        hits = (bad[:, None] - np.arange(k)[None, :]).ravel()
        index[hits[(hits >= 0) & (hits < m)]] = UNK_ID
    return index


def kmer_ids(seq: str | bytes, k: int) -> np.ndarray:
    """Token ids (uint16) of the overlapping k-mers of ``seq``, without [CLS]/[SEP]."""
    return window_ids(base_codes(seq), k)


@dataclass(frozen=True)
class Batch:
    """Padded token ids for a batch of sequences.

    ``input_ids`` and ``attention_mask`` have shape ``(rows, length)``;
    ``sequence_index[r]`` is the input sequence row ``r`` came from (rows and inputs
    differ only under the ``"split"`` policy).
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray
    sequence_index: np.ndarray

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{"input_ids": ..., "attention_mask": ...}`` as a model takes them."""
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask}


def _check_overflow(overflow: str, max_kmers: int) -> None:
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}; got {overflow!r}")
    if max_kmers < 1:
        raise ValueError(f"max_kmers must be at least 1, got {max_kmers}")


def _plan_pieces(
    n_kmers: np.ndarray, k: int, overflow: str, max_kmers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output row: (input index, first k-mer within its input, number of k-mers)."""
    too_long = np.flatnonzero(n_kmers > max_kmers)
    if overflow == "error" and too_long.size:
        i = int(too_long[0])
        raise SequenceTooLongError(
            f"sequence {i} has {int(n_kmers[i])} {k}-mers ({int(n_kmers[i]) + k - 1} bp); at most {max_kmers} "
            f"fit ({max_kmers + k - 1} bp); choose overflow='truncate' or 'split' to accept longer input"
        )
    if overflow != "split":
        rows = np.arange(n_kmers.size)
        return rows, np.zeros(n_kmers.size, dtype=np.int64), np.minimum(n_kmers, max_kmers)
    n_pieces = np.maximum(1, -(-n_kmers // max_kmers))
    rows = np.repeat(np.arange(n_kmers.size), n_pieces)
    first_piece = np.cumsum(n_pieces) - n_pieces
    piece_no = np.arange(rows.size) - np.repeat(first_piece, n_pieces)
    first = piece_no * max_kmers
    return rows, first, np.clip(n_kmers[rows] - first, 0, max_kmers)


def encode_batch(
    seqs: Sequence[str | bytes],
    k: int,
    *,
    overflow: Overflow = "error",
    max_kmers: int = MAX_KMERS,
    pad_to: int | None = None,
    dtype: type = np.int64,
) -> Batch:
    """Tokenize many sequences at once into padded ``[CLS] k-mers [SEP] [PAD]...`` rows.

    Rows are padded with [PAD] to the longest row (dynamic padding) or to ``pad_to``
    tokens (an error if a row is longer). All sequences are joined into one buffer
    and tokenized with whole-array operations.
    """
    k = check_k(k)
    _check_overflow(overflow, max_kmers)
    if isinstance(seqs, (str, bytes)):
        raise TypeError("encode_batch() takes a list of sequences; use encode() for one sequence")
    encoded = [s.encode("ascii", "replace") if isinstance(s, str) else bytes(s) for s in seqs]
    lengths = np.fromiter((len(s) for s in encoded), dtype=np.int64, count=len(encoded))
    starts = np.cumsum(lengths) - lengths
    ids = window_ids(base_codes(b"".join(encoded)), k)
    n_kmers = np.maximum(lengths - k + 1, 0)
    rows, first, counts = _plan_pieces(n_kmers, k, overflow, max_kmers)
    width = int(counts.max(initial=0)) + 2
    if pad_to is not None:
        if pad_to < width:
            raise ValueError(f"pad_to={pad_to} is shorter than the longest row ({width} tokens)")
        width = pad_to
    span = width - 2
    input_ids = np.zeros((rows.size, width), dtype=dtype)  # PAD_ID == 0
    input_ids[:, 0] = CLS_ID
    if span and rows.size:
        padded = np.concatenate((ids, np.zeros(span, dtype=np.uint16)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, span)
        input_ids[:, 1:-1] = windows[np.minimum(starts[rows] + first, ids.size)]
        short = np.flatnonzero(counts < span)
        if short.size:
            input_ids[short, 1:-1] *= np.arange(span)[None, :] < counts[short, None]
    input_ids[np.arange(rows.size), counts + 1] = SEP_ID
    attention_mask = (np.arange(width)[None, :] < (counts + 2)[:, None]).astype(dtype)
    return Batch(input_ids, attention_mask, rows)


def encode(
    seq: str | bytes, k: int, *, overflow: Literal["error", "truncate"] = "error", max_kmers: int = MAX_KMERS
) -> np.ndarray:
    """Token ids (int64) of one sequence: ``[CLS]`` + k-mers + ``[SEP]``, no padding."""
    if overflow == "split":
        raise ValueError("encode() returns one row; use encode_pieces() or encode_batch() for overflow='split'")
    _check_overflow(overflow, max_kmers)
    ids = kmer_ids(seq, k)
    if ids.size > max_kmers:
        _plan_pieces(np.array([ids.size]), k, overflow, max_kmers)  # raises under "error"
        ids = ids[:max_kmers]
    out = np.empty(ids.size + 2, dtype=np.int64)
    out[0], out[-1] = CLS_ID, SEP_ID
    out[1:-1] = ids
    return out


def encode_pieces(seq: str | bytes, k: int, *, max_kmers: int = MAX_KMERS) -> list[np.ndarray]:
    """``overflow="split"`` for one sequence: consecutive pieces of at most ``max_kmers`` k-mers."""
    ids = kmer_ids(seq, k)
    bounds = range(0, max(ids.size, 1), max_kmers)
    return [np.concatenate(([CLS_ID], ids[b : b + max_kmers], [SEP_ID])).astype(np.int64) for b in bounds]


@dataclass(frozen=True)
class KmerTokenizer:
    """Settings-holding convenience wrapper: ``KmerTokenizer(6)(seqs)`` -> :class:`Batch`."""

    k: int = 6
    overflow: Overflow = "error"
    max_kmers: int = MAX_KMERS

    def __post_init__(self) -> None:
        check_k(self.k)
        _check_overflow(self.overflow, self.max_kmers)

    def __call__(self, seqs: Sequence[str | bytes], pad_to: int | None = None) -> Batch:
        return encode_batch(seqs, self.k, overflow=self.overflow, max_kmers=self.max_kmers, pad_to=pad_to)

    @property
    def vocab(self) -> list[str]:
        return vocab(self.k)


# --------------------------------------------------------------------------- k-mer strings


def seq2kmer(seq: str, k: int) -> str:
    """DNABERT's ``seq2kmer``: the space-separated overlapping k-mers of ``seq`` (case kept)."""
    k = check_k(k)
    raw = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    m = raw.size - k + 1
    if m <= 0:
        return ""
    out = np.full((m, k + 1), ord(" "), dtype=np.uint8)
    out[:, :k] = np.lib.stride_tricks.sliding_window_view(raw, k)
    return out.tobytes()[:-1].decode("ascii")


def kmer2seq(kmers: str | Sequence[str]) -> str:
    """DNABERT's ``kmer2seq``: rebuild the sequence from overlapping k-mers.

    ``kmers`` is a whitespace-separated string or a list. Raises ValueError naming the
    first k-mer that has the wrong length or does not overlap its predecessor.
    """
    items = kmers.split() if isinstance(kmers, str) else list(kmers)
    if not items:
        return ""
    k = len(items[0])
    wrong = [i for i, item in enumerate(items) if len(item) != k]
    if wrong:
        i = wrong[0]
        raise ValueError(f"k-mer {i + 1} {items[i]!r} has length {len(items[i])}; k-mer 1 has length {k}")
    grid = np.frombuffer("".join(items).encode("ascii", "replace"), dtype=np.uint8).reshape(len(items), k)
    bad = np.flatnonzero((grid[1:, :-1] != grid[:-1, 1:]).any(axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"k-mer {i + 2} {items[i + 1]!r} does not overlap k-mer {i + 1} {items[i]!r} by {k - 1} bases")
    return (grid[:, 0].tobytes() + grid[-1, 1:].tobytes()).decode("ascii")


def ids_to_seq(ids: Sequence[int] | np.ndarray, k: int) -> str:
    """Rebuild the sequence from token ids (k-mer ids; [CLS], [SEP] and [PAD] are skipped).

    Raises ValueError on [UNK]/[MASK] or on consecutive k-mers that do not overlap.
    """
    k = check_k(k)
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[(ids != CLS_ID) & (ids != SEP_ID) & (ids != PAD_ID)]
    if ids.size == 0:
        return ""
    bad = np.flatnonzero((ids < N_SPECIAL) | (ids >= vocab_size(k)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"token {i + 1} (id {int(ids[i])}) is not a {k}-mer; cannot rebuild the sequence")
    index = ids - N_SPECIAL
    shifts = 2 * np.arange(k - 1, -1, -1)
    digits = ((index[:, None] >> shifts[None, :]) & 3).astype(np.uint8)
    broken = np.flatnonzero((digits[1:, :-1] != digits[:-1, 1:]).any(axis=1))
    if broken.size:
        i = int(broken[0])
        raise ValueError(f"k-mer {i + 2} (id {int(ids[i + 1])}) does not overlap k-mer {i + 1} (id {int(ids[i])})")
    codes = np.concatenate((digits[:, 0], digits[-1, 1:]))
    return _CODE_TO_BASE[codes].tobytes().decode("ascii")


# --------------------------------------------------------------------------- Hugging Face


def _kmer_normalizer(k: int):
    """A ``tokenizers`` normalizer that rewrites raw DNA as space-separated overlapping k-mers.

    Regex pre-tokenizers cannot emit overlapping pieces, but a ``Replace`` normalizer
    with a zero-width regex (lookbehind/lookahead) inserts a literal string at every
    position the regex matches. After lower-casing the input and turning any
    non-ACGT character into ``n``, each original (lower-case) base ``b_i`` that
    starts a complete k-mer gets the upper-case k-mer ``B_i..B_{i+k-1}`` inserted
    after it, one base per pass: pass 0 (``(?<=x)`` plus a lookahead for k-1 more
    bases) copies the base itself, pass m copies the m-th following original base
    (found by skipping inserted upper-case letters). Finally the original lower-case
    bases become spaces. That is 4 + 4k + 2 regex passes, all serialisable.
    """
    from tokenizers import Regex, normalizers

    skip = "[^acgtn]*"
    steps = [normalizers.Lowercase(), normalizers.Replace(Regex("[^acgt]"), "n")]
    # offset 0: the base itself, where k-1 further bases follow ([UNK]-bound n kept)
    for base in "acgtn":
        steps.append(normalizers.Replace(Regex(f"(?<={base})(?=(?:{skip}[acgtn]){{{k - 1}}})"), base.upper()))
    # offset m: copy the m-th following base; a k-mer with n stops growing and ends as [UNK]
    for m in range(1, k):
        for base in "acgt":
            pattern = f"(?<=[acgtn][ACGTN]{{{m}}})(?=(?:{skip}[acgtn]){{{m - 1}}}{skip}{base})"
            steps.append(normalizers.Replace(Regex(pattern), base.upper()))
    steps.append(normalizers.Replace(Regex("[acgtn]"), " "))
    return normalizers.Sequence(steps)


def _vocab_source(k: int | None, vocab_file: PathLike | None) -> tuple[int, list[str]]:
    """(k, tokens) from a vocab file (k checked if given) or generated for ``k``."""
    if vocab_file is None:
        if k is None:
            raise ValueError("give k or vocab_file")
        return check_k(k), vocab(k)
    file_k, tokens = read_vocab(vocab_file)
    if k is not None and check_k(k) != file_k:
        raise InputError(vocab_file, f"holds {file_k}-mers but k={k} was requested")
    return file_k, tokens


def build_hf_tokenizer(k: int | None = None, vocab_file: PathLike | None = None) -> PreTrainedTokenizerFast:
    """A Hugging Face fast tokenizer that maps raw DNA to DNABERT k-mer ids.

    Built from the generated vocabulary for ``k``, or from a DNABERT ``vocab.txt``
    (``k`` then inferred, or checked if given). Pipeline: the k-mer normalizer of
    :func:`_kmer_normalizer`, whitespace split, a WordLevel model (unknown -> [UNK]),
    and a ``[CLS] $A [SEP]`` template. ``model_max_length`` is 512, so
    ``truncation=True`` keeps the first 510 k-mers (our ``"truncate"``) and
    ``truncation=True, return_overflowing_tokens=True`` gives our ``"split"`` pieces.
    """
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    k, tokens = _vocab_source(k, vocab_file)
    ids = {token: i for i, token in enumerate(tokens)}
    backend = Tokenizer(models.WordLevel(ids, unk_token="[UNK]"))
    backend.normalizer = _kmer_normalizer(k)
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=MAX_TOKENS,
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
    )


def save_hf_tokenizer(model_dir: PathLike, k: int | None = None, vocab_file: PathLike | None = None) -> Path:
    """Write the tokenizer next to a model: tokenizer.json, tokenizer_config.json, vocab.txt.

    Afterwards plain ``AutoTokenizer.from_pretrained(model_dir)`` tokenizes raw DNA to
    DNABERT ids (no ``trust_remote_code``; this package need not be installed).
    ``tokenizer_class`` is ``PreTrainedTokenizerFast`` so the files load with
    transformers 4.x and 5.x; ``vocab.txt`` lets DNABERT's original code read it.
    Files are written to a temporary folder and renamed into place.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_hf_tokenizer(k, vocab_file)
    tokens = sorted(tokenizer.get_vocab(), key=tokenizer.get_vocab().__getitem__)
    tmp = Path(tempfile.mkdtemp(prefix=".tokenizer.", dir=model_dir))
    try:
        tokenizer.save_pretrained(tmp)
        config_path = tmp / "tokenizer_config.json"
        config = json.loads(config_path.read_text())
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        (tmp / "vocab.txt").write_text("\n".join(tokens) + "\n")
        for item in sorted(tmp.iterdir()):
            os.replace(item, model_dir / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("wrote a %d-mer Hugging Face tokenizer to %s", len(tokens[N_SPECIAL]), model_dir)
    return model_dir
