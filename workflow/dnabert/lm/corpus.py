"""DNABERT's pretraining corpus, streamed into token shards.

Recipe (Ji et al. 2021, with its flaw fixed): per chromosome, upper-case the
(soft-masked) sequence and split it at every run of non-ACGT bases, never joining
sequence across a gap (DNABERT deleted N's and so glued distant sequence together).
Each N-free segment is cut into consecutive non-overlapping pieces: with
probability ``p_max_length`` (0.5) a piece has the maximum length
(``max_kmers + k - 1`` bp, i.e. 510 k-mers), otherwise a uniformly random length
between the minimum and the maximum; a remainder of at least the minimum length
becomes a last, shorter piece. With ``coverage > 1`` extra pieces with the same
length distribution are placed uniformly at random inside segments until the
corpus holds ``coverage`` times the segment bases. Segments shorter than the
minimum are dropped. Chromosomes named in ``exclude`` (the fine-tuning tasks' test
chromosomes) are skipped entirely. A ``mask`` (BED intervals: every task's test
intervals) is cut out of the sequence before segmentation, exactly like a run of
N: no piece overlaps a masked base, and the sequence on either side is cut as
separate segments. A mask that touches none of the used chromosomes changes
nothing, piece for piece.

Output directory layout::

    shard_00000.tokens.npy   uint16 token ids of all pieces, each [CLS] k-mers [SEP]
    shard_00000.offsets.npy  int64, pieces + 1 entries: piece i is tokens[o[i]:o[i+1]]
    shard_00000.loci.npy     int64 (pieces, 2): chromosome index, 0-based start
    ...
    manifest.json            settings, chromosomes, counts, length histogram, shards

All ``.npy`` files open with ``np.load(path, mmap_mode="r")``; :class:`CorpusReader`
indexes pieces across shards. Pieces are stored in genome order (then the extra
pieces, sorted by position): shuffle when training.

Memory is bounded by one chromosome (1 byte/base of codes, plus a transient
1 byte/base while finding gaps) plus one shard buffer (``shard_tokens`` x 2 bytes)
and one tokenisation batch; it does not grow with the genome. Each chromosome
draws from its own RNG seeded by ``(seed, hash of its name)``, so results do not
depend on which other chromosomes are present. Every file is written to a
temporary name and renamed; ``manifest.json`` is written last (and a stale one is
removed first), so a directory with a manifest is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pysam
from tqdm.auto import tqdm

from dnabert.lm import kmer
from dnabert.io import InputError, PathLike, atomic_path, write_text_atomic

log = logging.getLogger(__name__)

FORMAT = "dnabert-corpus"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard_{index:05d}.{part}.npy"
SHARD_PARTS = ("tokens", "offsets", "loci")
FETCH_BLOCK = 1 << 24  # bases read from the FASTA per call
BATCH_TOKENS = 1 << 22  # tokens produced per vectorised tokenisation batch
HISTOGRAM_BINS = 32


@dataclass(frozen=True)
class CorpusSettings:
    """How to cut and tokenise the corpus.

    ``min_length`` is in bases (DNABERT: 5); a piece needs at least one k-mer, so
    the effective minimum is ``max(min_length, k)``. The maximum piece length is
    ``max_kmers + k - 1`` bases. ``coverage`` 1.0 means no extra random pieces.
    ``shard_tokens`` is the size of one shard (and of the in-memory shard buffer).
    """

    k: int = 6
    min_length: int = 5
    max_kmers: int = kmer.MAX_KMERS
    coverage: float = 1.0
    seed: int = 42
    shard_tokens: int = 1 << 26
    p_max_length: float = 0.5

    def __post_init__(self) -> None:
        try:
            kmer.check_k(self.k)
        except ValueError as err:
            raise InputError(None, str(err), field="k") from None
        rules = {
            "min_length": (self.min_length >= 1, "must be at least 1 (bases)"),
            "max_kmers": (self.max_kmers >= 1, "must be at least 1"),
            "coverage": (
                math.isfinite(self.coverage) and self.coverage >= 1.0,
                "must be a finite number >= 1.0 (1.0 = non-overlapping pieces only)",
            ),
            "seed": (self.seed >= 0, "must be a non-negative integer"),
            "shard_tokens": (
                self.shard_tokens >= self.max_kmers + 2,
                f"must hold at least one full piece ({self.max_kmers + 2} tokens)",
            ),
            "p_max_length": (0.0 <= self.p_max_length <= 1.0, "must be a probability in [0, 1]"),
        }
        for field, (ok, rule) in rules.items():
            if not ok:
                raise InputError(None, f"{rule}, got {getattr(self, field)!r}", field=field)
        if self.min_bases > self.max_bases:
            raise InputError(
                None,
                f"min_length {self.min_length} exceeds the maximum piece length {self.max_bases}",
                field="min_length",
            )

    @property
    def max_bases(self) -> int:
        """Maximum piece length in bases (``max_kmers + k - 1``)."""
        return self.max_kmers + self.k - 1

    @property
    def min_bases(self) -> int:
        """Effective minimum piece length in bases (at least one k-mer)."""
        return max(self.min_length, self.k)


# --------------------------------------------------------------------------- pure pieces


def chromosome_rng(seed: int, name: str) -> np.random.Generator:
    """The RNG for one chromosome: independent of the other chromosomes present."""
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def acgt_segments(codes: np.ndarray, min_bases: int, block: int = FETCH_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (half-open) of each maximal ACGT-only run of at least ``min_bases``.

    Works block by block so the transient memory is ``block`` bytes, not the chromosome's.
    """
    edges: list[np.ndarray] = []
    previous = False
    for low in range(0, codes.size, block):
        valid = codes[low : low + block] < kmer.INVALID_CODE
        edges.append(low + np.flatnonzero(np.diff(valid, prepend=previous)))
        previous = bool(valid[-1])
    if previous:
        edges.append(np.array([codes.size]))
    flat = np.concatenate(edges).astype(np.int64) if edges else np.empty(0, dtype=np.int64)
    starts, ends = flat[0::2], flat[1::2]
    keep = ends - starts >= min_bases
    return starts[keep], ends[keep]


def draw_lengths(rng: np.random.Generator, n: int, settings: CorpusSettings) -> np.ndarray:
    """``n`` piece lengths: the maximum with probability p_max_length, else uniform in [min, max]."""
    at_max = rng.random(n) < settings.p_max_length
    uniform = rng.integers(settings.min_bases, settings.max_bases + 1, size=n)
    return np.where(at_max, settings.max_bases, uniform).astype(np.int64)


def _mean_length(settings: CorpusSettings) -> float:
    p = settings.p_max_length
    return p * settings.max_bases + (1 - p) * (settings.min_bases + settings.max_bases) / 2


def cut_segment(rng: np.random.Generator, length: int, settings: CorpusSettings) -> np.ndarray:
    """Consecutive piece lengths tiling a segment from its start; a remainder >= min is kept."""
    pieces: list[np.ndarray] = []
    used = 0
    while length - used >= settings.min_bases:
        estimate = int((length - used) / _mean_length(settings) * 1.1) + 8
        draws = draw_lengths(rng, estimate, settings)
        ends = used + np.cumsum(draws)
        fit = int(np.searchsorted(ends, length, side="right"))
        pieces.append(draws[:fit])
        used = int(ends[fit - 1]) if fit else used
        if fit < draws.size:  # the next draw did not fit: keep the remainder if long enough
            rest = length - used
            if rest >= settings.min_bases:
                pieces.append(np.array([rest], dtype=np.int64))
                used = length
            break
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)


def tile_segments(
    rng: np.random.Generator, starts: np.ndarray, ends: np.ndarray, settings: CorpusSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping pieces (start, length) covering each segment from its start."""
    all_starts: list[np.ndarray] = []
    all_lengths: list[np.ndarray] = []
    for start, end in zip(starts.tolist(), ends.tolist()):
        lengths = cut_segment(rng, end - start, settings)
        all_starts.append(start + np.cumsum(lengths) - lengths)
        all_lengths.append(lengths)
    if not all_lengths:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(all_starts), np.concatenate(all_lengths)


def extra_pieces(
    rng: np.random.Generator, starts: np.ndarray, ends: np.ndarray, settings: CorpusSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly placed pieces totalling ``(coverage - 1)`` x the segment bases, sorted by start.

    A base is drawn uniformly over all segments; the piece starts there, shifted left
    to stay inside its segment, and is shortened to the segment when that is shorter.
    """
    sizes = ends - starts
    target = (settings.coverage - 1.0) * float(sizes.sum())
    if target <= 0 or sizes.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    cumulative = np.cumsum(sizes)
    out_starts: list[np.ndarray] = []
    out_lengths: list[np.ndarray] = []
    total = 0.0
    while total < target:
        n = int((target - total) / _mean_length(settings) * 1.1) + 8
        lengths = draw_lengths(rng, n, settings)
        where = rng.integers(0, int(cumulative[-1]), size=n)
        segment = np.searchsorted(cumulative, where, side="right")
        offset = where - (cumulative[segment] - sizes[segment])
        lengths = np.minimum(lengths, sizes[segment])
        offset = np.minimum(offset, sizes[segment] - lengths)
        running = total + np.cumsum(lengths)
        take = min(n, int(np.searchsorted(running, target, side="left")) + 1)
        out_starts.append(starts[segment[:take]] + offset[:take])
        out_lengths.append(lengths[:take])
        total = float(running[take - 1])
    piece_starts, piece_lengths = np.concatenate(out_starts), np.concatenate(out_lengths)
    order = np.argsort(piece_starts, kind="stable")
    return piece_starts[order], piece_lengths[order]


def tokenize_pieces(
    codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint16 tokens (``[CLS] k-mers [SEP]`` per piece) and per-piece token counts.

    The k-mer ids of the whole span the pieces cover are computed once with
    :func:`kmer.window_ids`. Sorted non-overlapping pieces then take their k-mers by
    one boolean selection; overlapping ones gather theirs by index.
    """
    counts = lengths - k + 3
    tokens = np.empty(int(counts.sum()), dtype=np.uint16)
    if counts.size == 0:
        return tokens, counts
    low = int(starts.min())
    ids = kmer.window_ids(codes[low : int((starts + lengths).max())], k)
    out_start = np.cumsum(counts) - counts
    first = starts - low
    if np.all(first[1:] >= first[:-1] + lengths[:-1]):
        inside = np.zeros(ids.size + 1, dtype=np.int8)
        inside[first] = 1
        inside[first + counts - 2] -= 1
        body = np.ones(tokens.size, dtype=bool)
        body[out_start] = body[out_start + counts - 1] = False
        tokens[body] = ids[np.cumsum(inside[:-1], dtype=np.int8).view(bool)]
    else:
        shift = np.repeat(first - out_start - 1, counts)
        shift += np.arange(shift.size)
        shift[out_start] = 0  # [CLS] slot
        shift[out_start + counts - 1] = 0  # [SEP] slot (may point past the end)
        tokens[:] = ids[shift]
    tokens[out_start] = kmer.CLS_ID
    tokens[out_start + counts - 1] = kmer.SEP_ID
    return tokens, counts


# --------------------------------------------------------------------------- I/O


def open_fasta(path: PathLike) -> pysam.FastaFile:
    """Open an indexed (bgzipped) FASTA, or raise InputError saying what is wrong."""
    if not Path(path).is_file():
        raise InputError(path, "FASTA file not found")
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as err:
        raise InputError(
            path,
            f"cannot open as an indexed FASTA ({err}); it must be plain or bgzip-compressed with a .fai (and .gzi)",
        ) from None


def mask_codes(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> int:
    """Set the bases of sorted, merged intervals to ``INVALID_CODE`` in place; return how many were valid."""
    masked = 0
    for start, end in zip(np.clip(starts, 0, codes.size).tolist(), np.clip(ends, 0, codes.size).tolist()):
        part = codes[start:end]
        masked += int(np.count_nonzero(part < kmer.INVALID_CODE))
        part[:] = kmer.INVALID_CODE
    return masked


def read_codes(fasta: pysam.FastaFile, name: str, length: int, source: PathLike = "<fasta>") -> np.ndarray:
    """The chromosome as uint8 base codes (upper and lower case alike), read in blocks."""
    codes = np.empty(length, dtype=np.uint8)
    for start in range(0, length, FETCH_BLOCK):
        end = min(start + FETCH_BLOCK, length)
        block = kmer.base_codes(fasta.fetch(name, start, end))
        if block.size != end - start:
            raise InputError(source, f"{name}: read {block.size} bases at {start}, expected {end - start}")
        codes[start:end] = block
    return codes


class ShardWriter:
    """Accumulates tokenised pieces in one buffer and writes a shard when it is full."""

    def __init__(self, out_dir: Path, capacity: int):
        self.out_dir = out_dir
        self.buffer = np.empty(capacity, dtype=np.uint16)
        self.fill = 0
        self.counts: list[np.ndarray] = []
        self.loci: list[np.ndarray] = []
        self.shards: list[dict] = []

    def add(self, tokens: np.ndarray, counts: np.ndarray, loci: np.ndarray) -> None:
        """Append pieces (flat tokens, tokens per piece, (chrom, start) rows); pieces never span shards."""
        ends = np.cumsum(counts)
        done = 0
        while done < counts.size:
            base = int(ends[done - 1]) if done else 0
            room = self.buffer.size - self.fill
            fit = int(np.searchsorted(ends, base + room, side="right")) - done
            if fit == 0:
                self.flush()
                continue
            stop = int(ends[done + fit - 1])
            self.buffer[self.fill : self.fill + stop - base] = tokens[base:stop]
            self.fill += stop - base
            self.counts.append(counts[done : done + fit])
            self.loci.append(loci[done : done + fit])
            done += fit

    def flush(self) -> None:
        """Write the buffered pieces as the next shard (no-op when empty)."""
        if not self.counts:
            return
        index = len(self.shards)
        counts = np.concatenate(self.counts)
        offsets = np.zeros(counts.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        parts = {
            "tokens": self.buffer[: self.fill],
            "offsets": offsets,
            "loci": np.concatenate(self.loci).astype(np.int64).reshape(-1, 2),
        }
        entry: dict = {"pieces": int(counts.size), "tokens": int(self.fill)}
        for part, array in parts.items():
            name = SHARD_PATTERN.format(index=index, part=part)
            with atomic_path(self.out_dir / name) as tmp, open(tmp, "wb") as handle:
                np.save(handle, array)
            entry[part + "_file"] = name
        self.shards.append(entry)
        log.info("wrote shard %d: %d pieces, %d tokens", index, entry["pieces"], entry["tokens"])
        self.fill = 0
        self.counts, self.loci = [], []


# --------------------------------------------------------------------------- build


def chromosome_pieces(codes: np.ndarray, name: str, settings: CorpusSettings) -> tuple[np.ndarray, np.ndarray, dict]:
    """All pieces (start, length) of one chromosome and a summary of its segments."""
    rng = chromosome_rng(settings.seed, name)
    seg_starts, seg_ends = acgt_segments(codes, settings.min_bases)
    tile_starts, tile_lengths = tile_segments(rng, seg_starts, seg_ends, settings)
    more_starts, more_lengths = extra_pieces(rng, seg_starts, seg_ends, settings)
    summary = {
        "segments": int(seg_starts.size),
        "segment_bases": int((seg_ends - seg_starts).sum()),
        "extra_pieces": int(more_starts.size),
    }
    return np.concatenate((tile_starts, more_starts)), np.concatenate((tile_lengths, more_lengths)), summary


def _batches(counts: np.ndarray, batch_tokens: int) -> Iterator[slice]:
    """Slices of consecutive pieces holding about ``batch_tokens`` tokens each."""
    ends = np.cumsum(counts)
    first = 0
    while first < counts.size:
        base = int(ends[first - 1]) if first else 0
        last = max(first + 1, int(np.searchsorted(ends, base + batch_tokens, side="right")))
        yield slice(first, last)
        first = last


def _histogram(length_counts: np.ndarray, settings: CorpusSettings) -> dict:
    edges = np.unique(np.linspace(settings.min_bases, settings.max_bases + 1, HISTOGRAM_BINS + 1).round().astype(int))
    cumulative = np.concatenate(([0], np.cumsum(length_counts)))
    counts = cumulative[edges[1:]] - cumulative[edges[:-1]]
    return {"unit": "bp", "bin_edges": edges.tolist(), "counts": counts.tolist()}


def build_corpus(
    fasta: Path,
    out_dir: Path,
    settings: CorpusSettings,
    exclude: Sequence[str] = (),
    progress: bool = True,
    mask: PathLike | None = None,
) -> dict:
    """Build the tokenised pretraining corpus of ``fasta`` into ``out_dir``; return the manifest.

    ``mask`` is a BED file of intervals cut out of the corpus (see the module docstring).
    """
    from dnabert.data.intervals import IntervalIndex

    fasta, out_dir = Path(fasta), Path(out_dir)
    masked = IntervalIndex.from_bed(mask) if mask is not None else IntervalIndex()
    mask_summary = {"intervals": len(masked), "bases_removed": 0}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).unlink(missing_ok=True)
    excluded = set(exclude)
    with open_fasta(fasta) as handle:
        chromosomes = list(zip(handle.references, handle.lengths))
        names = {name for name, _ in chromosomes}
        missing = sorted(excluded - names)
        if missing:
            log.warning("%s: excluded chromosomes not in the FASTA: %s", fasta, ", ".join(missing))
        used = [(name, length) for name, length in chromosomes if name not in excluded]
        if not used:
            raise InputError(fasta, "no chromosome left after excluding " + ", ".join(sorted(excluded)))
        writer = ShardWriter(out_dir, settings.shard_tokens)
        length_counts = np.zeros(settings.max_bases + 1, dtype=np.int64)
        records = []
        bar = tqdm(used, desc="corpus", unit="chrom", disable=not progress)
        for index, (name, length) in enumerate(bar):
            bar.set_postfix_str(name)
            codes = read_codes(handle, name, length, fasta)
            mask_summary["bases_removed"] += mask_codes(codes, *masked.blocks(name))
            starts, lengths, summary = chromosome_pieces(codes, name, settings)
            counts = lengths - settings.k + 3
            for part in _batches(counts, BATCH_TOKENS):
                tokens, piece_counts = tokenize_pieces(codes, starts[part], lengths[part], settings.k)
                loci = np.column_stack((np.full(piece_counts.size, index, dtype=np.int64), starts[part]))
                writer.add(tokens, piece_counts, loci)
            length_counts += np.bincount(lengths, minlength=length_counts.size)
            record = {
                "name": name,
                "length": int(length),
                **summary,
                "pieces": int(lengths.size),
                "bases": int(lengths.sum()),
                "tokens": int(counts.sum()),
            }
            records.append(record)
            log.info(
                "%s: %d segments, %d pieces, %d tokens", name, record["segments"], record["pieces"], record["tokens"]
            )
            del codes
        writer.flush()
    manifest = _manifest(fasta, settings, records, chromosomes, sorted(excluded), missing, length_counts, writer.shards)
    if mask is not None:
        manifest["mask"] = {"bed": str(mask), **mask_summary}
        log.info("mask %s: %d intervals, %d ACGT bases of the used chromosomes cut out", mask,
                 mask_summary["intervals"], mask_summary["bases_removed"])
    _remove_stale_shards(out_dir, writer.shards)
    write_text_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    log.info(
        "corpus: %d pieces, %d tokens, %d bases in %d shards",
        manifest["pieces"],
        manifest["tokens"],
        manifest["bases"],
        len(writer.shards),
    )
    return manifest


def _manifest(fasta, settings, records, chromosomes, excluded, missing, length_counts, shards) -> dict:
    pieces = int(length_counts.sum())
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "k": settings.k,
        "seed": settings.seed,
        "settings": asdict(settings),
        "min_length_bp": settings.min_bases,
        "max_length_bp": settings.max_bases,
        "fasta": str(fasta),
        "vocab_size": kmer.vocab_size(settings.k),
        "dtype": "uint16",
        "special_tokens": dict(zip(kmer.SPECIAL_TOKENS, range(kmer.N_SPECIAL))),
        "chromosomes": records,
        "chromosomes_excluded": [name for name, _ in chromosomes if name in set(excluded)],
        "exclude_requested": excluded,
        "exclude_not_found": missing,
        "pieces": pieces,
        "tokens": int(sum(r["tokens"] for r in records)),
        "bases": int(sum(r["bases"] for r in records)),
        "max_length_pieces": int(length_counts[settings.max_bases]),
        "max_length_fraction": float(length_counts[settings.max_bases] / pieces) if pieces else 0.0,
        "length_histogram": _histogram(length_counts, settings),
        "shards": shards,
    }


def _remove_stale_shards(out_dir: Path, shards: list[dict]) -> None:
    keep = {entry[part + "_file"] for entry in shards for part in SHARD_PARTS}
    for path in out_dir.glob("shard_*.npy"):
        if path.name not in keep:
            path.unlink()


# --------------------------------------------------------------------------- read


class CorpusReader:
    """Random access to the pieces of a corpus directory (memory-mapped shards).

    ``reader[i]`` is piece ``i``'s token ids (uint16, ``[CLS] ... [SEP]``);
    ``reader.locus(i)`` its ``(chromosome, start, end)``; ``reader.token_counts()``
    the token count of every piece (for length-grouped batching).
    """

    def __init__(self, directory: PathLike):
        self.directory = Path(directory)
        path = self.directory / MANIFEST
        try:
            self.manifest = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(path, "corpus manifest not found (was the corpus built completely?)") from None
        except json.JSONDecodeError as err:
            raise InputError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != FORMAT_VERSION:
            raise InputError(path, f"not a {FORMAT} v{FORMAT_VERSION} manifest", field="format")
        self.k = int(self.manifest["k"])
        self.chromosomes = [record["name"] for record in self.manifest["chromosomes"]]
        shards = self.manifest["shards"]
        for entry in shards:
            for part in SHARD_PARTS:
                if not (self.directory / entry[part + "_file"]).is_file():
                    raise InputError(
                        self.directory / entry[part + "_file"], "shard file listed in the manifest is missing"
                    )
        self._first = np.concatenate(([0], np.cumsum([entry["pieces"] for entry in shards]))).astype(np.int64)
        self._cache: dict[tuple[int, str], np.ndarray] = {}

    def _part(self, shard: int, part: str) -> np.ndarray:
        key = (shard, part)
        if key not in self._cache:
            name = self.manifest["shards"][shard][part + "_file"]
            self._cache[key] = np.load(self.directory / name, mmap_mode="r")
        return self._cache[key]

    def _locate(self, index: int) -> tuple[int, int]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"piece {index} out of range (corpus has {len(self)})")
        shard = int(np.searchsorted(self._first, index, side="right")) - 1
        return shard, index - int(self._first[shard])

    def __len__(self) -> int:
        return int(self._first[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        shard, local = self._locate(index)
        offsets = self._part(shard, "offsets")
        return self._part(shard, "tokens")[offsets[local] : offsets[local + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for shard in range(len(self.manifest["shards"])):
            tokens, offsets = self._part(shard, "tokens"), np.asarray(self._part(shard, "offsets"))
            for start, end in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
                yield tokens[start:end]

    def locus(self, index: int) -> tuple[str, int, int]:
        """``(chromosome, start, end)`` of piece ``index`` (0-based, half-open)."""
        shard, local = self._locate(index)
        chrom, start = (int(v) for v in self._part(shard, "loci")[local])
        offsets = self._part(shard, "offsets")
        n_tokens = int(offsets[local + 1] - offsets[local])
        return self.chromosomes[chrom], start, start + n_tokens - 2 + self.k - 1

    def spans(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Chromosome names and, for every piece, its chromosome index, start and end (vectorised)."""
        chrom, start, end = [], [], []
        for shard in range(len(self.manifest["shards"])):
            loci = np.asarray(self._part(shard, "loci"))
            n_tokens = np.diff(np.asarray(self._part(shard, "offsets")))
            chrom.append(loci[:, 0])
            start.append(loci[:, 1])
            end.append(loci[:, 1] + n_tokens - 2 + self.k - 1)
        if not chrom:
            empty = np.empty(0, dtype=np.int64)
            return self.chromosomes, empty, empty, empty
        return self.chromosomes, np.concatenate(chrom), np.concatenate(start), np.concatenate(end)

    def token_counts(self) -> np.ndarray:
        """Tokens per piece, for all pieces in order."""
        parts = [np.diff(np.asarray(self._part(s, "offsets"))) for s in range(len(self.manifest["shards"]))]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
