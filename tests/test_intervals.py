"""Intervals: vectorised window extraction (byte-for-byte as bedtools getfasta), filters, overlaps."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import numpy as np
import pytest

from conftest import shared_file
from dnabert.data.datasets import Genomic, clean_windows
from dnabert.data.intervals import (
    GenomeSequence, IntervalIndex, Intervals, centred_windows, fasta_header, within_bounds,
)
from dnabert.sequence import from_strings, gc_fraction, n_fraction, to_strings
from dnabert.sequence import reverse_complement_codes as reverse_complement
from dnabert.data.splits import ChromosomeSplits

PIECE = "hg38/chr2_1-2333275.fa.gz"


def random_windows(n: int, width: int, size: int, seed: int = 0, low: int = 0) -> Intervals:
    rng = np.random.default_rng(seed)
    start = rng.integers(low, size - width, n)
    return Intervals(np.full(n, "chr2", dtype=object), start, start + width, rng.choice(["+", "-"], n))


@pytest.fixture(scope="module")
def plain_piece(tmp_path_factory):
    """The chr2 piece as plain FASTA (bedtools 2.30 cannot read BGZF)."""
    path = tmp_path_factory.mktemp("piece") / "chr2.fa"
    with gzip.open(shared_file(PIECE), "rb") as src, open(path, "wb") as out:
        shutil.copyfileobj(src, out)
    return path


def bedtools_getfasta(fasta, intervals: Intervals, tmp_path, stranded: bool) -> str:
    if shutil.which("bedtools") is None:
        pytest.skip("bedtools is not installed (apt-get install bedtools; .ci/run installs it)")
    bed = tmp_path / "windows.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\tw\t0\t{st}\n" for c, s, e, st in
                           zip(intervals.chrom, intervals.start.tolist(), intervals.end.tolist(), intervals.strand)))
    args = ["bedtools", "getfasta", "-fi", str(fasta), "-bed", str(bed)] + (["-s"] if stranded else [])
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def as_fasta(intervals: Intervals, codes: np.ndarray, stranded: bool) -> str:
    return "".join(f">{h}\n{s}\n" for h, s in zip(fasta_header(intervals, stranded), to_strings(codes)))


@pytest.mark.realdata
@pytest.mark.parametrize("n", [50, 30_000], ids=["sparse-fetch", "whole-chromosome"])
@pytest.mark.parametrize("stranded", [False, True], ids=["plus", "stranded"])
def test_windows_equal_bedtools_getfasta_byte_for_byte(plain_piece, tmp_path, n, stranded):
    intervals = random_windows(n, 101, 2_333_275, seed=n)
    # Include the N region, its edge and the chromosome end.
    edge = Intervals(np.array(["chr2"] * 3, dtype=object), np.array([0, 9_950, 2_333_275 - 101]),
                     np.array([101, 10_051, 2_333_275]), np.array(["+", "-", "-"]))
    intervals = Intervals.concat([intervals, edge])
    with GenomeSequence(shared_file(PIECE)) as genome:
        ours = as_fasta(intervals, genome.windows(intervals, oriented=stranded, upper=False), stranded)
    assert ours == bedtools_getfasta(plain_piece, intervals, tmp_path, stranded)


@pytest.mark.realdata
def test_soft_masked_bases_are_upper_cased(plain_piece, tmp_path):
    intervals = random_windows(200, 101, 2_333_275, seed=3, low=10_000)
    with GenomeSequence(shared_file(PIECE)) as genome:
        raw = genome.windows(intervals, upper=False)
        up = genome.windows(intervals)
    assert (raw >= ord("a")).any(), "the piece is soft-masked"
    assert not (up >= ord("a")).any()
    expected = bedtools_getfasta(plain_piece, intervals, tmp_path, stranded=True).upper()
    assert as_fasta(intervals, up, True).upper() == expected
    assert "".join(to_strings(up)) == "".join(to_strings(raw)).upper()


@pytest.mark.realdata
def test_windows_in_the_n_region_are_dropped():
    intervals = Intervals(np.array(["chr2"] * 4, dtype=object), np.array([100, 9_950, 9_990, 50_000]),
                          np.array([201, 10_051, 10_091, 50_101]), name=np.array(["in", "half", "edge", "ok"]))
    with GenomeSequence(shared_file(PIECE)) as genome:
        ctx = Genomic(genome, IntervalIndex(), ChromosomeSplits(("chrX",), ("chrY",)), "t")
        kept, codes, rows = clean_windows(ctx, intervals, 0.0, "test")
        assert kept.name.tolist() == ["ok"] and rows.tolist() == [3]
        kept, _, _ = clean_windows(ctx, intervals, 0.3, "test")
        assert kept.name.tolist() == ["edge", "ok"]  # 'half' has 50 of 101 bases N, 'edge' 10
        assert n_fraction(genome.windows(intervals))[:2].tolist() == [1.0, 50 / 101]


@pytest.mark.realdata
def test_blacklist_and_bounds_filters():
    blacklist = IntervalIndex.from_bed(shared_file("hg38/hg38-blacklist.v2.bed.gz"))
    block_start, block_end = blacklist.blocks("chr2")
    assert len(block_start) > 2
    s = int(block_start[0])
    intervals = Intervals(np.array(["chr2"] * 4, dtype=object), np.array([s - 101, s - 100, 2_333_200, 20_000]),
                          np.array([s, s + 1, 2_333_301, 20_101]), name=np.array(["before", "touch", "end", "ok"]))
    with GenomeSequence(shared_file(PIECE)) as genome:
        assert within_bounds(intervals, genome.sizes).tolist() == [True, True, False, True]
        ctx = Genomic(genome, blacklist, ChromosomeSplits(("chrX",), ("chrY",)), "t")
        kept, _, _ = clean_windows(ctx, intervals, 0.0, "test")
    assert "touch" not in kept.name.tolist() and "end" not in kept.name.tolist()


def test_interval_index_matches_brute_force():
    rng = np.random.default_rng(4)
    starts = rng.integers(0, 10_000, 300)
    blocks = Intervals(np.array(["c"] * 300, dtype=object), starts, starts + rng.integers(1, 80, 300))
    index = IntervalIndex(blocks)
    q_start = rng.integers(0, 10_000, 2_000)
    queries = Intervals(np.array(["c"] * 1000 + ["d"] * 1000, dtype=object), q_start, q_start + rng.integers(1, 50, 2000))
    brute = np.array([(c == "c") and bool(((blocks.start < e) & (blocks.end > s)).any())
                      for c, s, e in zip(queries.chrom, queries.start, queries.end)])
    assert (index.overlaps(queries) == brute).all()
    merged = index.union(Intervals(np.array(["d"], dtype=object), np.array([5]), np.array([6])))
    assert merged.overlaps(Intervals(np.array(["d"], dtype=object), np.array([0]), np.array([6]))).tolist() == [True]


def test_centred_windows_and_string_round_trip():
    w = centred_windows(np.array(["c", "c"], dtype=object), np.array([100, 51]), 101)
    assert w.start.tolist() == [50, 1] and w.length.tolist() == [101, 101]
    codes = from_strings(["ACGTN", "GGCCA"])
    assert to_strings(reverse_complement(codes)) == ["NACGT", "TGGCC"]
    assert gc_fraction(codes).tolist() == [0.5, 0.8]
    with pytest.raises(ValueError):
        from_strings(["ACG", "A"])
