"""Negative sets: exact dinucleotide shuffles, GC-matched background, flanks, DNABERT promoter negatives."""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

from conftest import shared_file
from dnabert.data.intervals import GenomeSequence, IntervalIndex, Intervals
from dnabert.sequence import from_strings, gc_fraction, n_fraction, to_strings
from dnabert.data.negatives import (
    counts_per_positive, dinucleotide_counts, dinucleotide_shuffle, flank_windows, gc_matched_windows,
    histogram_distance, ks_statistic, match_histogram, shuffled_negatives, substitution_negatives,
)
from dnabert.data.peaks import read_bed_peaks, summit_windows

PIECE = "hg38/chr2_1-2333275.fa.gz"


def random_codes(n: int, length: int, seed: int, letters: bytes = b"ACGTN", p=(0.3, 0.2, 0.2, 0.28, 0.02)):
    rng = np.random.default_rng(seed)
    return np.frombuffer(letters, dtype=np.uint8)[rng.choice(len(letters), size=(n, length), p=p)]


def test_shuffle_preserves_dinucleotide_counts_exactly():
    for length in (3, 10, 101, 400):
        codes = random_codes(500, length, seed=length)
        shuffled = dinucleotide_shuffle(codes, np.random.default_rng(1))
        assert (dinucleotide_counts(shuffled) == dinucleotide_counts(codes)).all()
        assert (shuffled[:, 0] == codes[:, 0]).all() and (shuffled[:, -1] == codes[:, -1]).all()
    assert (dinucleotide_shuffle(codes, np.random.default_rng(1)) != codes).mean() > 0.5


@pytest.mark.realdata
def test_shuffle_of_real_sequences_preserves_dinucleotides():
    rng = np.random.default_rng(0)
    start = rng.integers(10_000, 2_300_000, 300)
    windows = Intervals(np.full(300, "chr2", dtype=object), start, start + 101)
    with GenomeSequence(shared_file(PIECE)) as genome:
        codes = genome.windows(windows)
    shuffled, parent = shuffled_negatives(codes, 2.0, np.random.default_rng(5))
    assert len(parent) == 600 and (np.bincount(parent) == 2).all()
    assert (dinucleotide_counts(shuffled) == dinucleotide_counts(codes[parent])).all()


def test_shuffle_is_seeded_and_uniform():
    codes = random_codes(50, 60, seed=2, letters=b"ACGT", p=(0.25,) * 4)
    a = dinucleotide_shuffle(codes, np.random.default_rng(7))
    assert (a == dinucleotide_shuffle(codes, np.random.default_rng(7))).all()
    assert (a != dinucleotide_shuffle(codes, np.random.default_rng(8))).any()
    # Every sequence with the same dinucleotide counts is equally likely (exhaustive check on a short one).
    base = np.frombuffer(b"AACGTACGAT", dtype=np.uint8)[None]
    target = dinucleotide_counts(base)[0]
    every = np.array(list(itertools.product(b"ACGT", repeat=base.shape[1] - 1)), dtype=np.uint8)
    every = np.hstack([np.full((len(every), 1), base[0, 0], dtype=np.uint8), every])  # same first letter
    valid = {bytes(row) for row in every[(dinucleotide_counts(every) == target).all(axis=1)]}
    draws = 24_000
    seen = collections.Counter(bytes(r) for r in dinucleotide_shuffle(np.repeat(base, draws, 0), np.random.default_rng(3)))
    assert set(seen) == valid and len(valid) == 12
    expected = draws / len(valid)
    chi2 = sum((n - expected) ** 2 / expected for n in seen.values())
    assert chi2 < 35  # 11 degrees of freedom: p ~ 2e-4


def test_counts_per_positive_hits_the_ratio():
    rng = np.random.default_rng(0)
    assert counts_per_positive(10, 1.5, rng).sum() == 15
    assert set(counts_per_positive(10, 1.5, rng).tolist()) == {1, 2}
    assert counts_per_positive(0, 2, rng).sum() == 0


def test_substitution_negatives_follow_dnabert():
    codes = random_codes(200, 300, seed=4, letters=b"ACGT", p=(0.25,) * 4)
    out, parent = substitution_negatives(codes, 20, 12, np.random.default_rng(0))
    assert out.shape == codes.shape and (parent == np.arange(200)).all()
    pieces = (out != codes).reshape(200, 20, 15).any(axis=2)
    # At most 12 pieces differ (a random base can equal the original); at least 8 are untouched.
    assert pieces.sum(axis=1).max() <= 12 and pieces.sum(axis=1).min() >= 8
    assert 0.5 < (out != codes).mean() / (12 / 20) < 0.9  # about 3/4 of replaced bases differ


def test_flank_windows():
    positives = Intervals(np.array(["c", "c"], dtype=object), np.array([1000, 5000]), np.array([1101, 5101]))
    both, parent = flank_windows(positives, 300, 2.0, np.random.default_rng(0))
    assert parent.tolist() == [0, 0, 1, 1]
    assert sorted(both.start[:2].tolist()) == [700, 1300] and sorted(both.start[2:].tolist()) == [4700, 5300]
    one, _ = flank_windows(positives, 300, 1.0, np.random.default_rng(0))
    assert len(one) == 2 and set(np.abs(one.start - positives.start).tolist()) == {300}
    with pytest.raises(ValueError):
        flank_windows(positives, 300, 3.0, np.random.default_rng(0))


def test_match_histogram_borrows_from_neighbouring_bins():
    target = np.array([0.11] * 10 + [0.51] * 10)
    candidates = np.array([0.11] * 3 + [0.13] * 20 + [0.5] * 30)
    picked = match_histogram(target, candidates, 20, bins=50, rng=np.random.default_rng(0))
    assert len(picked) == len(set(picked.tolist())) == 20
    assert (candidates[picked] < 0.2).sum() == 10 and (candidates[picked] == 0.11).sum() == 3


@pytest.mark.realdata
def test_gc_matched_negatives_follow_the_positives_gc_histogram():
    """Measure: total variation distance between the 50-bin GC histograms (the bins matched) <= 0.02,
    and the two-sample Kolmogorov-Smirnov statistic <= 0.06 (bins are 0.02 wide); unmatched background
    is clearly further away."""
    peaks = read_bed_peaks(shared_file("hg38/chr2_1-2333275.regulatory_elements.bed"))
    blacklist = IntervalIndex.from_bed(shared_file("hg38/hg38-blacklist.v2.bed.gz"))
    with GenomeSequence(shared_file(PIECE)) as genome:
        windows = summit_windows(peaks, 200)
        codes = genome.windows(windows)
        keep = n_fraction(codes) == 0
        windows, gc = windows.take(keep), gc_fraction(codes[keep])
        exclude = blacklist.union(Intervals(windows.chrom, windows.start - 500, windows.end + 500))
        negatives, neg_gc = gc_matched_windows(genome, gc, ["chr2"], 200, 2 * len(gc), exclude, 50, 0.0,
                                               np.random.default_rng(1))
        assert len(negatives) == 2 * len(gc) and len(gc) > 400
        sequences = genome.windows(negatives)
        assert np.allclose(gc_fraction(sequences), neg_gc) and (n_fraction(sequences) == 0).all()
        assert not exclude.overlaps(negatives).any()
        assert histogram_distance(gc, neg_gc, bins=50) <= 0.02
        assert ks_statistic(gc, neg_gc) <= 0.06
        rng = np.random.default_rng(2)
        start = rng.integers(10_000, 2_333_000, 2000)
        background = genome.windows(Intervals(np.full(2000, "chr2", dtype=object), start, start + 200))
        assert ks_statistic(gc, gc_fraction(background)) > 3 * ks_statistic(gc, neg_gc)
    assert to_strings(from_strings(["AC"])) == ["AC"]
