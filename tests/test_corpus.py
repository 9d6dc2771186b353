"""Pretraining corpus: N gaps respected, length distribution, exclusion, determinism, shards."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pysam
import pytest

from conftest import shared_file
from dnabert.lm import kmer
from dnabert.lm.corpus import CorpusReader, CorpusSettings, acgt_segments, build_corpus, cut_segment
from dnabert.io import InputError

SETTINGS = CorpusSettings(k=4, min_length=5, max_kmers=60, coverage=1.0, seed=7, shard_tokens=5_000)


def _random_chrom(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size=n)].copy()


def _synthetic_genome() -> dict[str, str]:
    """Chromosomes with N runs of many sizes, soft-masking, an IUPAC code, and a tiny contig."""
    rng = np.random.default_rng(2024)
    chroms = {}
    a = _random_chrom(rng, 60_000)
    a[:300] = ord("N")  # leading gap
    for start, size in [(5_000, 1), (12_000, 50), (30_000, 1_000), (45_000, 3), (59_800, 200)]:
        a[start : start + size] = ord("N")
    a[20_000] = ord("R")
    a[40_000:42_000] += 32  # soft-masked (lower case)
    chroms["chrA"] = a.tobytes().decode()
    b = _random_chrom(rng, 30_000)
    b[10_000:10_010] = ord("n")
    chroms["chrB"] = b.tobytes().decode()
    chroms["chrC"] = _random_chrom(rng, 20_000).tobytes().decode()
    chroms["chrD"] = "NNACGNNAC"  # no segment of the minimum length
    return chroms


def _write_bgzf_fasta(directory: Path, chroms: dict[str, str]) -> Path:
    plain = directory / "genome.fa"
    with open(plain, "w") as handle:
        for name, seq in chroms.items():
            handle.write(f">{name}\n")
            handle.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    path = directory / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.faidx(str(path))
    return path


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    chroms = _synthetic_genome()
    return _write_bgzf_fasta(tmp_path_factory.mktemp("genome"), chroms), chroms


@pytest.fixture(scope="module")
def corpus(genome, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(genome[0], out, SETTINGS, exclude=["chrC", "chrZ"], progress=False)
    return out, manifest


def _pieces(directory: Path) -> list[tuple[str, int, int, np.ndarray]]:
    reader = CorpusReader(directory)
    return [(*reader.locus(i), np.asarray(tokens)) for i, tokens in enumerate(reader)]


def test_every_piece_is_an_acgt_substring_of_one_chromosome(genome, corpus):
    chroms = genome[1]
    pieces = _pieces(corpus[0])
    assert len(pieces) == corpus[1]["pieces"] > 1_000
    for chrom, start, end, tokens in pieces:
        assert tokens[0] == kmer.CLS_ID and tokens[-1] == kmer.SEP_ID
        seq = kmer.ids_to_seq(tokens, SETTINGS.k)  # raises on [UNK]: no k-mer touches a gap
        assert seq == chroms[chrom][start:end].upper() and set(seq) <= set("ACGT")
        assert tokens.tolist() == kmer.encode(seq, SETTINGS.k).tolist()


def test_pieces_tile_segments_without_overlap(genome, corpus):
    pieces = _pieces(corpus[0])
    lengths = np.array([end - start for _, start, end, _ in pieces])
    assert lengths.min() >= SETTINGS.min_bases and lengths.max() == SETTINGS.max_bases == 63
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for chrom, start, end, _ in pieces:
        by_chrom.setdefault(chrom, []).append((start, end))
    for chrom, spans in by_chrom.items():
        starts, ends = np.array(spans).T
        assert (starts[1:] >= ends[:-1]).all(), f"{chrom}: overlapping pieces"
        seg_starts, seg_ends = acgt_segments(kmer.base_codes(genome[1][chrom]), SETTINGS.min_bases)
        segment_bases = int((seg_ends - seg_starts).sum())
        covered = int((ends - starts).sum())
        assert segment_bases - covered <= SETTINGS.min_bases * seg_starts.size  # only short remainders lost
    fraction = float(np.mean(lengths == SETTINGS.max_bases))
    assert 0.4 < fraction < 0.6 and corpus[1]["max_length_fraction"] == pytest.approx(fraction)
    others = lengths[lengths < SETTINGS.max_bases]
    assert np.ptp(others) > 0.8 * (SETTINGS.max_bases - SETTINGS.min_bases)  # spread over [min, max)


def test_excluded_and_empty_chromosomes_are_absent(corpus):
    directory, manifest = corpus
    used = {chrom for chrom, *_ in _pieces(directory)}
    assert used == {"chrA", "chrB"}
    assert [r["name"] for r in manifest["chromosomes"]] == ["chrA", "chrB", "chrD"]
    assert manifest["chromosomes"][2]["pieces"] == 0
    assert manifest["chromosomes_excluded"] == ["chrC"] and manifest["exclude_not_found"] == ["chrZ"]


def test_manifest_and_shards_are_consistent(corpus):
    directory, manifest = corpus
    reader = CorpusReader(directory)
    assert json.loads((directory / "manifest.json").read_text()) == manifest
    assert manifest["k"] == 4 and manifest["seed"] == 7 and manifest["settings"]["max_kmers"] == 60
    assert len(manifest["shards"]) > 5  # shard_tokens is small on purpose
    assert sum(s["pieces"] for s in manifest["shards"]) == len(reader) == manifest["pieces"]
    counts = reader.token_counts()
    assert counts.sum() == manifest["tokens"] == sum(s["tokens"] for s in manifest["shards"])
    assert manifest["bases"] == int((counts - 2 + SETTINGS.k - 1).sum())
    assert sum(manifest["length_histogram"]["counts"]) == manifest["pieces"]
    for shard in manifest["shards"]:
        tokens = np.load(directory / shard["tokens_file"], mmap_mode="r")
        offsets = np.load(directory / shard["offsets_file"])
        assert tokens.dtype == np.uint16 and offsets.dtype == np.int64
        assert offsets[0] == 0 and offsets[-1] == tokens.size == shard["tokens"] <= SETTINGS.shard_tokens
    assert reader[-1].tolist() == list(reader)[-1].tolist()
    with pytest.raises(IndexError):
        reader[len(reader)]


def test_deterministic_for_a_seed(genome, corpus, tmp_path):
    again = build_corpus(genome[0], tmp_path / "again", SETTINGS, exclude=["chrC", "chrZ"], progress=False)
    assert again == corpus[1]
    for name in sorted(p.name for p in corpus[0].glob("shard_*.npy")):
        assert (tmp_path / "again" / name).read_bytes() == (corpus[0] / name).read_bytes()
    other = build_corpus(genome[0], tmp_path / "other", replace(SETTINGS, seed=8), exclude=["chrC"], progress=False)
    assert other["pieces"] != again["pieces"] or other["length_histogram"] != again["length_histogram"]


def test_chromosome_pieces_do_not_depend_on_exclusions(genome, corpus, tmp_path):
    build_corpus(genome[0], tmp_path / "all", SETTINGS, progress=False)
    with_c = [p for p in _pieces(tmp_path / "all") if p[0] == "chrA"]
    without_c = [p for p in _pieces(corpus[0]) if p[0] == "chrA"]
    assert [p[:3] for p in with_c] == [p[:3] for p in without_c]


def test_masked_intervals_are_cut_out_like_gaps(genome, corpus, tmp_path):
    """No piece overlaps a masked interval; pieces elsewhere stay, and a mask on an excluded chromosome changes nothing."""
    bed = tmp_path / "mask.bed"
    bed.write_text("# test intervals\nchrA\t25000\t25101\nchrA\t25050\t25300\nchrB\t100\t200\nchrC\t0\t500\n")
    manifest = build_corpus(genome[0], tmp_path / "masked", SETTINGS, exclude=["chrC"], progress=False, mask=bed)
    assert manifest["mask"] == {"bed": str(bed), "intervals": 3, "bases_removed": 300 + 100}
    pieces = _pieces(tmp_path / "masked")
    for chrom, low, high in [("chrA", 25000, 25300), ("chrB", 100, 200)]:
        assert not [p for p in pieces if p[0] == chrom and p[1] < high and p[2] > low]
        assert [p for p in pieces if p[0] == chrom and p[2] == low]  # the segment before ends at the mask
        assert [p for p in pieces if p[0] == chrom and p[1] == high]  # and the next one starts after it
    # Only chrC (excluded) masked: byte-identical shards to the unmasked corpus.
    only_c = tmp_path / "only_c.bed"
    only_c.write_text("chrC\t0\t500\n")
    build_corpus(genome[0], tmp_path / "same", SETTINGS, exclude=["chrC", "chrZ"], progress=False, mask=only_c)
    for name in sorted(p.name for p in corpus[0].glob("shard_*.npy")):
        assert (tmp_path / "same" / name).read_bytes() == (corpus[0] / name).read_bytes()


def test_spans_match_loci(corpus):
    reader = CorpusReader(corpus[0])
    names, chrom, start, end = reader.spans()
    assert [(names[c], s, e) for c, s, e in zip(chrom.tolist(), start.tolist(), end.tolist())] == [
        reader.locus(i) for i in range(len(reader))
    ]


def test_coverage_adds_randomly_placed_pieces(genome, tmp_path):
    settings = replace(SETTINGS, coverage=2.5, shard_tokens=1 << 16)
    manifest = build_corpus(genome[0], tmp_path / "cov", settings, exclude=["chrC"], progress=False)
    chroms = genome[1]
    for record in manifest["chromosomes"]:
        if record["segment_bases"]:
            assert record["bases"] >= 2.5 * record["segment_bases"] - SETTINGS.min_bases * record["segments"]
            assert record["bases"] <= 2.5 * record["segment_bases"] + SETTINGS.max_bases
            assert record["extra_pieces"] > 0
    for chrom, start, end, tokens in _pieces(tmp_path / "cov"):
        assert kmer.ids_to_seq(tokens, settings.k) == chroms[chrom][start:end].upper()


def test_rebuild_removes_stale_shards(genome, tmp_path):
    out = tmp_path / "c"
    build_corpus(genome[0], out, SETTINGS, progress=False)
    many = len(list(out.glob("shard_*")))
    manifest = build_corpus(genome[0], out, replace(SETTINGS, shard_tokens=1 << 20), progress=False)
    assert len(manifest["shards"]) == 1 and len(list(out.glob("shard_*"))) == 3 < many
    assert not list(out.glob(".*tmp"))


def test_cut_segment_tiles_exactly_or_leaves_a_short_remainder():
    rng = np.random.default_rng(0)
    settings = CorpusSettings(k=6)
    for length in [settings.min_bases, 100, 515, 516, 10_000, 123_457]:
        lengths = cut_segment(rng, length, settings)
        assert lengths.sum() <= length and length - lengths.sum() < settings.min_bases
        assert lengths.min() >= settings.min_bases and lengths.max() <= settings.max_bases == 515
    assert cut_segment(rng, settings.min_bases - 1, settings).size == 0


@pytest.mark.parametrize(
    "field, value",
    [("k", 9), ("min_length", 0), ("max_kmers", 0), ("coverage", 0.5), ("shard_tokens", 100), ("p_max_length", 2.0)],
)
def test_bad_settings_name_the_field(field, value):
    with pytest.raises(InputError) as err:
        CorpusSettings(**{field: value})
    assert err.value.field == field


def test_bad_inputs_are_reported(genome, tmp_path):
    plain_gzip = tmp_path / "plain.fa.gz"
    plain_gzip.write_bytes(gzip.compress(b">chr1\nACGT\n"))
    with pytest.raises(InputError, match="bgzip") as err:
        build_corpus(plain_gzip, tmp_path / "x", SETTINGS, progress=False)
    assert str(plain_gzip) in str(err.value)
    with pytest.raises(InputError, match="not found"):
        build_corpus(tmp_path / "missing.fa.gz", tmp_path / "x", SETTINGS, progress=False)
    with pytest.raises(InputError, match="no chromosome left"):
        build_corpus(genome[0], tmp_path / "x", SETTINGS, exclude=list(genome[1]), progress=False)
    with pytest.raises(InputError, match="manifest not found"):
        CorpusReader(tmp_path / "x")


@pytest.mark.realdata
def test_real_hg38_piece(tmp_path):
    fasta = shared_file("hg38/chr2_1-2333275.fa.gz")
    settings = CorpusSettings(k=6, seed=1, shard_tokens=1 << 20)
    manifest = build_corpus(fasta, tmp_path / "hg38", settings, exclude=["chr8"], progress=False)
    reader = CorpusReader(tmp_path / "hg38")
    record = manifest["chromosomes"][0]
    assert record["name"] == "chr2" and record["segment_bases"] <= 2_333_275 - 10_000
    assert 0.45 < manifest["max_length_fraction"] < 0.55 and len(manifest["shards"]) == 3
    assert manifest["bases"] > 0.999 * record["segment_bases"]
    rng = np.random.default_rng(0)
    with pysam.FastaFile(str(fasta)) as handle:
        for i in rng.choice(len(reader), size=300, replace=False).tolist():
            chrom, start, end = reader.locus(i)
            assert start >= 10_000  # the first 10 kb are N
            assert kmer.ids_to_seq(reader[i], 6) == handle.fetch(chrom, start, end).upper()
