"""The corpus pieces as the trainer sees them: gathered into padded arrays, split into training and held-out."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike
from dnabert.lm import kmer
from dnabert.lm.corpus import MANIFEST, CorpusReader

log = logging.getLogger("dnabert.lm.pretrain")

PAD_MULTIPLE = 8  # batch lengths are padded to a multiple of this (tensor-core friendly, fewer shapes)


class PieceStore:
    """Corpus pieces gathered into padded batches: vectorised over the memory-mapped shards."""

    def __init__(self, directory: PathLike):
        self.reader = CorpusReader(directory)
        self.k = self.reader.k
        self.directory = Path(directory)
        self.chromosomes = self.reader.chromosomes
        shards = self.reader.manifest["shards"]
        self._tokens = [np.load(self.directory / entry["tokens_file"], mmap_mode="r") for entry in shards]
        offsets = [np.load(self.directory / entry["offsets_file"]).astype(np.int64) for entry in shards]
        loci = [np.load(self.directory / entry["loci_file"], mmap_mode="r") for entry in shards]
        self._starts = [o[:-1] for o in offsets]
        self.lengths = np.concatenate([np.diff(o) for o in offsets]) if offsets else np.empty(0, np.int64)
        self.chrom = np.concatenate([np.asarray(l[:, 0]) for l in loci]) if loci else np.empty(0, np.int64)
        self._first = np.concatenate(([0], np.cumsum([o.size - 1 for o in offsets]))).astype(np.int64)
        if self.lengths.size and self.lengths.max() > kmer.MAX_TOKENS:
            raise InputError(self.directory / MANIFEST, f"pieces longer than {kmer.MAX_TOKENS} tokens")

    def __len__(self) -> int:
        return int(self.lengths.size)

    def identity(self) -> dict[str, Any]:
        """What identifies the corpus content (for checkpoint fingerprints)."""
        manifest = self.reader.manifest
        return {key: manifest.get(key) for key in ("k", "seed", "settings", "pieces", "tokens", "bases", "chromosomes")}

    def gather(self, pieces: np.ndarray, pad_multiple: int = PAD_MULTIPLE) -> tuple[np.ndarray, np.ndarray]:
        """Token ids (rows, L) int64 padded with [PAD] to a multiple of ``pad_multiple``, and row lengths."""
        pieces = np.asarray(pieces, dtype=np.int64)
        lengths = self.lengths[pieces]
        width = int(-(-int(lengths.max(initial=1)) // pad_multiple) * pad_multiple)
        out = np.zeros((pieces.size, width), dtype=np.int64)
        shard = np.searchsorted(self._first, pieces, side="right") - 1
        for s in np.unique(shard).tolist():
            rows = np.flatnonzero(shard == s)
            local = pieces[rows] - self._first[s]
            n = lengths[rows]
            before = np.cumsum(n) - n
            position = np.arange(int(n.sum())) - np.repeat(before, n)
            flat = np.repeat(self._starts[s][local], n) + position
            out[np.repeat(rows, n), position] = self._tokens[s][flat]
        return out, lengths


def split_pieces(
    store: PieceStore, dev_chromosomes: Sequence[str], eval_pieces: int, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and evaluation piece ids: the ``splits.dev`` chromosomes are held out.

    At most ``eval_pieces`` held-out pieces are evaluated (a seeded sample). Without
    dev chromosomes in the corpus a seeded random ``min(eval_pieces, 5 %)`` of the
    pieces is held out instead, with a warning.
    """
    rng = np.random.default_rng([seed, 7])
    everything = np.arange(len(store))
    wanted = [name for name in dev_chromosomes if name in store.chromosomes]
    absent = sorted(set(dev_chromosomes) - set(store.chromosomes))
    if absent:
        log.warning("held-out chromosomes not in the corpus: %s", ", ".join(absent))
    if wanted:
        held = np.isin(store.chrom, [store.chromosomes.index(name) for name in wanted])
        train, candidates = everything[~held], everything[held]
        source = "pieces of the splits.dev chromosomes " + ", ".join(wanted)
        if train.size == 0:
            raise InputError(
                store.directory / MANIFEST,
                f"every corpus chromosome is a held-out dev chromosome ({', '.join(wanted)}); nothing left to train on",
                field="splits.dev",
            )
    else:
        count = max(1, min(eval_pieces, len(store) // 20))
        candidates = np.sort(rng.choice(everything, size=count, replace=False))
        train = np.setdiff1d(everything, candidates)
        source = f"a random {count} of {len(store)} pieces (no splits.dev chromosome in the corpus)"
        log.warning("no held-out dev chromosomes configured or present; evaluating on %s", source)
    if candidates.size > eval_pieces:
        candidates = np.sort(rng.choice(candidates, size=eval_pieces, replace=False))
    if train.size == 0:
        raise InputError(store.directory / MANIFEST, "the corpus has too few pieces to train on")
    return train, candidates, source
