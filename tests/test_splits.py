"""Splits: chromosome hold-out, grouped random splits, no sequence or reverse complement in two splits."""

from __future__ import annotations

import numpy as np
import pytest

from dnabert.data.splits import ChromosomeSplits, canonical, leakage_mask, random_split
from dnabert.sequence import reverse_complement


def test_chromosome_splits():
    splits = ChromosomeSplits(("chr8",), ("chr9", "chrX"), seed=3)
    assert splits.split_of(["chr1", "chr8", "chr9", "chrX"]).tolist() == ["train", "dev", "test", "test"]
    assert splits.chromosomes("train", ["chr1", "chr8", "chr9", "chr2"]) == ["chr1", "chr2"]
    with pytest.raises(ValueError, match="both dev and test: chr8"):
        ChromosomeSplits(("chr8",), ("chr8",))


def test_canonical_joins_reverse_complements():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert canonical(["TTGC", "gcaa"]) == ["GCAA", "GCAA"]


def test_random_split_is_grouped_seeded_and_proportional():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 20)) for _ in range(1000)]
    seqs += [reverse_complement(s) for s in seqs[:100]]  # reverse complements must follow their twin
    split = random_split(seqs, 0.1, 0.2, np.random.default_rng(1))
    assert (split == random_split(seqs, 0.1, 0.2, np.random.default_rng(1))).all()
    assert (split[:100] == split[1000:]).all()
    counts = {s: int((split == s).sum()) for s in ("train", "dev", "test")}
    assert abs(counts["test"] - 220) <= 2 and abs(counts["dev"] - 110) <= 2
    with pytest.raises(ValueError):
        random_split(seqs, 0.6, 0.5, np.random.default_rng(1))


def test_leakage_mask_keeps_test_copies():
    seqs = ["AAAC", "GTTT", "CCCC", "CCCC", "ACGA", "TCGT"]
    splits = ["train", "test", "dev", "dev", "dev", "train"]
    keep = leakage_mask(seqs, splits)
    # AAAC/GTTT are reverse complements: the test copy stays; CCCC twice in dev: first stays;
    # ACGA and TCGT are reverse complements: dev over train.
    assert keep.tolist() == [False, True, True, False, True, False]
