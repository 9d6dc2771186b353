"""Genome normalisation, chromosome filtering, chrom.sizes and BED masks."""

from __future__ import annotations

import gzip

import numpy as np
import pysam
import pytest

from dnabert.data.genome import (
    DEFAULT_EXCLUDE,
    ChromosomeFilter,
    merge_intervals,
    normalise_fasta,
    prepare_bed_mask,
    read_chrom_sizes,
    write_chrom_sizes,
)
from dnabert.io import InputError
from conftest import shared_file

FASTA = ">chr1 first\nACGTacgtNN\nAC\n>chr2\n" + "ACGT" * 40 + "\n>chrUn_KI270302v1\nACGT\n>chr1_KI270706v1_random\nAA\n>chrM\nGATC\n"


@pytest.fixture(params=["plain", "gzip", "bgzip"])
def fasta_file(request, tmp_path):
    path = tmp_path / f"in.{request.param}.fa"
    if request.param == "plain":
        path.write_text(FASTA)
    elif request.param == "gzip":
        path.write_bytes(gzip.compress(FASTA.encode()))
    else:
        plain = tmp_path / "plain.fa"
        plain.write_text(FASTA)
        pysam.tabix_compress(str(plain), str(path))
    return path


def test_normalise_keeps_sequence_and_case(fasta_file, tmp_path):
    out = tmp_path / "out" / "genome.fa.gz"
    lengths = normalise_fasta(fasta_file, out, ChromosomeFilter(exclude_regex=DEFAULT_EXCLUDE), line_width=7)
    assert lengths == [("chr1", 12), ("chr2", 160)]
    with pysam.FastaFile(str(out)) as fasta:
        assert list(fasta.references) == ["chr1", "chr2"]
        assert fasta.fetch("chr1") == "ACGTacgtNNAC"
        assert fasta.fetch("chr2", 3, 9) == "TACGTA"
    assert (tmp_path / "out" / "genome.fa.gz.gzi").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["genome.fa.gz", "genome.fa.gz.fai", "genome.fa.gz.gzi"]
    with open(out, "rb") as handle:
        assert handle.read(4) == b"\x1f\x8b\x08\x04"  # BGZF: gzip with the extra field


def test_include_list_and_missing_include(fasta_file, tmp_path):
    out = tmp_path / "genome.fa.gz"
    assert normalise_fasta(fasta_file, out, ChromosomeFilter(include=("chrM",))) == [("chrM", 4)]
    with pytest.raises(InputError, match="chromosomes to include are not in the file: chr9"):
        normalise_fasta(fasta_file, tmp_path / "b.fa.gz", ChromosomeFilter(include=("chr1", "chr9")))
    assert not (tmp_path / "b.fa.gz").exists()


def test_default_exclusion_regex():
    keep = ChromosomeFilter(exclude_regex=DEFAULT_EXCLUDE)
    kept = [n for n in ["chr1", "chrX", "chr1_KI270706v1_random", "chrUn_GL000195v1", "chrM",
                        "chr19_KI270938v1_alt", "chrEBV", "chr2_fix"] if keep.keeps(n)]
    assert kept == ["chr1", "chrX"]


def test_ambiguity_codes_become_n(tmp_path):
    source = tmp_path / "a.fa"
    source.write_text(">s\nACRYgtn\n")
    normalise_fasta(source, tmp_path / "o.fa.gz")
    assert pysam.FastaFile(str(tmp_path / "o.fa.gz")).fetch("s") == "ACNNgtn"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">s\nACGT\nACXT\n", r"a\.fa:3: field 'sequence': invalid base 'X' at column 3"),
        ("ACGT\n", r"a\.fa:1: not FASTA: expected a '>' header line"),
        (">s\nAC\n>s\nGT\n", r"a\.fa:3: field 'header': duplicate sequence name 's'"),
        (">s\nAC\n> \nGT\n", r"a\.fa:3: field 'header': empty sequence name"),
        (">s\n>t\nAC\n", r"a\.fa:1: field 'sequence': sequence 's' is empty"),
        ("", r"a\.fa: no sequences left after chromosome filtering"),
    ],
)
def test_bad_fasta_errors_name_line_and_field(tmp_path, text, message):
    source = tmp_path / "a.fa"
    source.write_text(text)
    with pytest.raises(InputError, match=message):
        normalise_fasta(source, tmp_path / "out" / "g.fa.gz")
    assert not any((tmp_path / "out").iterdir())


def test_crlf_and_blank_lines(tmp_path):
    source = tmp_path / "w.fa"
    source.write_bytes(b">s desc\r\nAC\r\n\r\nGT\r\n")
    assert normalise_fasta(source, tmp_path / "o.fa.gz") == [("s", 4)]


def test_chrom_sizes_round_trip(tmp_path):
    write_chrom_sizes([("chr1", 10), ("chr2", 5)], tmp_path / "chrom.sizes")
    assert (tmp_path / "chrom.sizes").read_text() == "chr1\t10\nchr2\t5\n"
    assert read_chrom_sizes(tmp_path / "chrom.sizes") == {"chr1": 10, "chr2": 5}
    (tmp_path / "bad.sizes").write_text("chr1\t10\nchr2\tfive\n")
    with pytest.raises(InputError, match=r"bad\.sizes:2: field 'length': not an integer: 'five'"):
        read_chrom_sizes(tmp_path / "bad.sizes")


def test_merge_intervals():
    starts, ends = merge_intervals(np.array([10, 0, 5, 30, 20]), np.array([15, 6, 8, 40, 30]))
    assert starts.tolist() == [0, 10, 20] and ends.tolist() == [8, 15, 40]


def test_prepare_bed_mask_sorts_clips_merges(tmp_path):
    bed = tmp_path / "bl.bed"
    bed.write_text("track name=x\n#c\nchr2\t50\t80\nchr1\t5\t9\nchr9\t1\t2\nchr1\t0\t6\nchr1\t95\t200\nchr1\t300\t400\n")
    count = prepare_bed_mask(bed, tmp_path / "out.bed.gz", {"chr1": 100, "chr2": 60})
    assert count == 3
    assert gzip.decompress((tmp_path / "out.bed.gz").read_bytes()).decode() == "chr1\t0\t9\nchr1\t95\t100\nchr2\t50\t60\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chr1\t10\n", r"bl\.bed:1: expected at least 3 tab-separated columns, got 2"),
        ("chr1\tten\t20\n", r"bl\.bed:1: field 'start': not an integer"),
        ("chr1\t10\t2x\n", r"bl\.bed:1: field 'end': not an integer"),
        ("chr1\t10\t10\n", r"bl\.bed:1: field 'end': end 10 is not after start 10"),
        ("chr1\t-1\t10\n", r"bl\.bed:1: field 'start': negative start -1"),
    ],
)
def test_bad_bed_errors(tmp_path, line, message):
    bed = tmp_path / "bl.bed"
    bed.write_text(line)
    with pytest.raises(InputError, match=message):
        prepare_bed_mask(bed, tmp_path / "out.bed.gz", {"chr1": 100})
    assert not (tmp_path / "out.bed.gz").exists()


def test_real_hg38_piece_round_trips(tmp_path):
    source = shared_file("hg38/chr2_1-2333275.fa.gz")
    out = tmp_path / "genome.fa.gz"
    assert normalise_fasta(source, out) == [("chr2", 2_333_275)]
    with pysam.FastaFile(str(source)) as original, pysam.FastaFile(str(out)) as normalised:
        assert normalised.fetch("chr2") == original.fetch("chr2")
    blacklist = shared_file("hg38/hg38-blacklist.v2.bed.gz")
    assert prepare_bed_mask(blacklist, tmp_path / "bl.bed.gz", {"chr2": 2_333_275}) == 2
