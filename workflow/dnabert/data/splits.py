"""Leakage-free train/dev/test splits: chromosome hold-out, grouped random splits, cross-split deduplication.

A sequence and its reverse complement count as the same sequence: no such pair
may sit in two splits. When one does, the copy in the earlier split of
``train < dev < test`` is dropped, so held-out sets stay intact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dnabert.io import InputError, PathLike
from dnabert.sequence import reverse_complement

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class ChromosomeSplits:
    """Chromosome hold-out: ``dev`` and ``test`` chromosomes; every other chromosome is train."""

    dev: tuple[str, ...]
    test: tuple[str, ...]
    seed: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "dev", tuple(self.dev))
        object.__setattr__(self, "test", tuple(self.test))
        both = sorted(set(self.dev) & set(self.test))
        if both:
            raise ValueError(f"splits: chromosomes in both dev and test: {', '.join(both)}")

    @classmethod
    def from_config(cls, cfg: dict) -> ChromosomeSplits:
        return cls(tuple(cfg["dev"]), tuple(cfg["test"]), int(cfg.get("seed", 1)))

    def split_of(self, chroms: Iterable[str]) -> np.ndarray:
        """'train', 'dev' or 'test' for each chromosome name."""
        lookup = {c: "dev" for c in self.dev} | {c: "test" for c in self.test}
        return np.array([lookup.get(c, "train") for c in chroms], dtype="<U5")

    def chromosomes(self, split: str, genome: Sequence[str]) -> list[str]:
        """The genome's chromosomes that belong to ``split``, in genome order."""
        return [c for c, s in zip(genome, self.split_of(genome)) if s == split]

    def check_genome(self, sizes: Mapping[str, int], genome: PathLike) -> None:
        """Every dev and test chromosome is in the genome and one is left for train, or an InputError says which."""
        names = list(sizes)
        listing = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        for split in ("dev", "test"):
            absent = [c for c in getattr(self, split) if c not in sizes]
            if absent:
                raise InputError(genome, f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not in this "
                                         f"genome (it has {len(names)}: {listing}); set splits.{split} to "
                                         "chromosomes of the genome", field=f"splits.{split}")  # fmt: skip
        if not set(names) - set(self.dev) - set(self.test):
            raise InputError(genome, f"no chromosome is left for train (genome: {listing})", field="splits")



def canonical(sequences: Iterable[str]) -> list[str]:
    """The smaller of each sequence and its reverse complement (upper case)."""
    out = []
    for s in sequences:
        s = s.upper()
        r = reverse_complement(s)
        out.append(s if s <= r else r)
    return out


def random_split(
    sequences: Sequence[str], dev: float, test: float, rng: np.random.Generator
) -> np.ndarray:
    """Assign each sequence to a split at random, identical (or reverse-complement) sequences together.

    Groups are shuffled and cut at the ``dev``/``test`` fractions of the sequence count.
    """
    if not (dev >= 0 and test >= 0 and dev + test < 1):
        raise ValueError(f"random split fractions must be >= 0 and leave room for train, got dev={dev}, test={test}")
    keys = np.array(canonical(sequences), dtype=object)
    if len(keys) == 0:
        return np.array([], dtype="<U5")
    _, group, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    order = rng.permutation(len(sizes))
    cum = np.cumsum(sizes[order])
    total = cum[-1]
    split_of_group = np.empty(len(sizes), dtype="<U5")
    n_test, n_dev = round(test * total), round(dev * total)
    split_of_group[order] = np.where(cum <= n_test, "test", np.where(cum <= n_test + n_dev, "dev", "train"))
    if test > 0 and n_test > 0 and "test" not in split_of_group:
        split_of_group[order[0]] = "test"
    return split_of_group[group]


def leakage_mask(sequences: Sequence[str], splits: Sequence[str], labels: Sequence | None = None) -> np.ndarray:
    """Rows to keep so that no sequence (or its reverse complement) repeats within or across splits.

    Within a split the first occurrence is kept; across splits the copy in the later split
    (test over dev over train) is kept.
    """
    keys = canonical(sequences)
    rank = {s: i for i, s in enumerate(SPLITS)}
    best: dict[str, tuple[int, int]] = {}
    for row, (key, split) in enumerate(zip(keys, splits)):
        r = rank[split]
        if key not in best or r > best[key][0]:
            best[key] = (r, row)
    keep = np.zeros(len(keys), dtype=bool)
    for _, row in best.values():
        keep[row] = True
    return keep


def report_dropped(keep: np.ndarray, splits: Sequence[str], what: str) -> None:
    """Log how many rows per split ``keep`` drops."""
    dropped = ~keep
    if dropped.any():
        split_arr = np.asarray(splits)
        counts = {s: int((dropped & (split_arr == s)).sum()) for s in SPLITS}
        log.info("%s: dropped %d duplicate sequences (same sequence or reverse complement): %s",
                 what, int(dropped.sum()), ", ".join(f"{s} {n}" for s, n in counts.items() if n))
