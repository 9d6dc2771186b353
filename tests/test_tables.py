"""Ready-made tables: DNABERT k-mer TSV, GUE / DNABERT-2 CSV and FASTA, with clear errors."""

from __future__ import annotations

import gzip

import pytest

from conftest import shared_file
from dnabert.io import InputError
from dnabert.data.tables import infer_format, kmers_to_sequence, read_dnabert_tsv, read_fasta_table, read_gue_csv, read_table


@pytest.mark.realdata
def test_dnabert_sample_tsv_loads_as_sequences():
    table = read_dnabert_tsv(shared_file("dnabert/sample/ft6_dev.tsv"))  # CRLF line endings
    assert len(table) == 1000
    assert {len(s) for s in table.sequences} == {101} and set(table.labels) == {0, 1}
    assert table.sequences[0].startswith("GTGGGGAGGGAGG")
    assert set("".join(table.sequences)) <= set("ACGTN")


@pytest.mark.realdata
@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_dnabert2_sample_csv_loads(split):
    table = read_table(shared_file(f"dnabert2/DNABERT2_sample_data_{split}.csv"), "csv")
    assert len(table) == 15 and set(table.labels) <= {0, 1}
    assert table.names[0].endswith(":2")


def test_kmers_round_trip_and_overlap_check():
    sequence = "ACGTACGGTA"
    kmers = [sequence[i:i + 6] for i in range(len(sequence) - 5)]
    assert kmers_to_sequence(kmers) == sequence
    with pytest.raises(InputError, match="do not overlap"):
        kmers_to_sequence(["ACGTAC", "GGGGGG"], "f.tsv", 3)


def test_table_errors_name_line_and_field(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("sequence,label\nACGT,1\nACXT,0\n")
    with pytest.raises(InputError) as caught:
        read_gue_csv(csv)
    assert caught.value.line == 3 and caught.value.field == "sequence" and "'X'" in str(caught.value)
    csv.write_text("seq,lab\nACGT,1\n")
    with pytest.raises(InputError, match="header 'sequence,label'"):
        read_gue_csv(csv)
    csv.write_text("sequence,label\nACGT,yes\n")
    with pytest.raises(InputError, match="label must be an integer"):
        read_gue_csv(csv)
    csv.write_text("sequence,label\n")
    with pytest.raises(InputError, match="no sequences"):
        read_gue_csv(csv)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("sequence\tlabel\nACG CGT GTA\t1\nACG CGA\t0\nACG TTT\t1\n")
    with pytest.raises(InputError) as caught:
        read_dnabert_tsv(tsv)
    assert caught.value.line == 4


def test_fasta_tables(tmp_path):
    fasta = tmp_path / "pos.fa.gz"
    with gzip.open(fasta, "wt") as handle:
        handle.write(">a desc\nACGT\nacgg\n>b\nNNAC\n")
    table = read_fasta_table(fasta, 1)
    assert table.sequences == ["ACGTACGG", "NNAC"] and table.labels == [1, 1] and table.names == ["a", "b"]
    with pytest.raises(InputError, match="needs a label"):
        read_table(fasta, "fasta")
    assert infer_format("x/pos.fa.gz") == "fasta" and infer_format("a.csv") == "csv"
    assert infer_format("a.tsv") == "dnabert_tsv" and infer_format("a.txt") is None
