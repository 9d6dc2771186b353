"""Bad data inputs, table-driven: each case gives the exact one-line message and leaves no output.

Kinds: FASTA (genome normalisation), narrowPeak/BED peaks, GTF and TSS BED annotation,
tables (GUE CSV, DNABERT TSV, FASTA), coordinate files (Genomic Benchmarks CSV, BED +
label), and the dataset checks that need several inputs (splits, negatives, labels).
Every case runs the job's own function with its declared outputs in a fresh folder and
asserts that the folder holds no file afterwards (no output, no temp file).
``python tests/test_bad_inputs_data.py`` prints the number of cases of each kind.
"""

from __future__ import annotations

import collections
import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dnabert.data.datasets import build_dataset
from dnabert.data.genome import normalise_fasta, write_chrom_sizes
from dnabert.io import InputError

SPLITS = {"dev": ["chrB"], "test": ["chrC"], "seed": 2}
GENOME_LIST = "it has 3: chrA, chrB, chrC"


@dataclass(frozen=True)
class Case:
    """One bad input: files to write (``@name`` in the task is replaced by that file's path), the expected message.

    ``expected`` is formatted with each file's path by name (dots as underscores), ``genome``,
    ``peaks_ok``, ``gtf_ok`` (the small simulated genome's own files).
    """

    kind: str
    name: str
    files: dict[str, Any]
    task: dict | None  # None: normalise the first file as a genome FASTA
    expected: str
    splits: dict = field(default_factory=lambda: SPLITS)


def truncated(text: str) -> bytes:
    """``text`` gzipped, cut in the middle of the compressed stream."""
    data = gzip.compress(text.encode(), mtime=0)
    return data[: len(data) // 2]


def gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text, mtime=0)


CORRUPT_DATA = b">c\nACGT\n"
PEAK = "chrA\t1000\t1300\t.\t0\t.\t5\t-1\t-1\t150\n"
MANY_LINES = "".join(f"chrA\t{1000 + i}\t{1300 + i}\t.\t0\t.\t5\t-1\t-1\t150\n" for i in range(3000))
PEAKS = {"type": "peaks", "peaks": "@peaks", "negatives": {"shuffle": {"ratio": 1}}}
BED_PEAKS = {**PEAKS, "format": "bed"}
EXON = 'chrA\tsim\texon\t{s}\t{e}\t.\t{strand}\t.\tgene_id "g1"; transcript_id "t1";\n'
SPLICE = {"type": "splice", "annotation": "@genes", "window": 100}
PROMOTERS_GTF = {"type": "promoters", "annotation": "@genes", "format": "gtf", "upstream": 20, "downstream": 10}
PROMOTERS_BED = {**PROMOTERS_GTF, "format": "bed"}
GUE = "sequence,label\n"
TABLE = {"type": "table", "files": [{"path": "@data.csv", "split": "train"}]}
GB_HEADER = "id,region,start,end,strand\n"
GB_ROW = "1,chrA,1000,1200,+\n"


def coords(*files: tuple[str, str | None, str | None], **extra) -> dict:
    """A coordinates task over ``(file, split, class)``."""
    return {"type": "coordinates", "dev_fraction": 0.5, **extra,
            "files": [{"path": f"@{f}", **({"split": s} if s else {}), **({"class": c} if c else {})}
                      for f, s, c in files]}


TWO_GB = coords(("a.csv", "train", "a"), ("b.csv", "test", "b"))
CASES = [
    # ------------------------------------------------------------------ FASTA (genome)
    Case("fasta", "non-ascii-header", {"g.fa": b">chr\xc3\xa91\nACGT\n"}, None,
         "{g_fa}:1: field 'header': non-ASCII byte 0xc3 at column 5: sequence names must be ASCII"),
    Case("fasta", "non-ascii-second-header", {"g.fa": b">chr1\nACGT\n>chr2 d\xe9j\xe0\nAC\n"}, None,
         "{g_fa}:3: field 'header': non-ASCII byte 0xe9 at column 8: sequence names must be ASCII"),
    Case("fasta", "non-ascii-sequence", {"g.fa": b">c\nAC\xc3\xa9GT\n"}, None,
         "{g_fa}:2: field 'sequence': non-ASCII byte 0xc3 at column 3"),
    Case("fasta", "invalid-base", {"g.fa": ">c\nACGTX\n"}, None, "{g_fa}:2: field 'sequence': invalid base 'X' at column 5"),
    Case("fasta", "no-header", {"g.fa": "ACGT\n"}, None, "{g_fa}:1: not FASTA: expected a '>' header line"),
    Case("fasta", "empty-name", {"g.fa": ">\nACGT\n"}, None, "{g_fa}:1: field 'header': empty sequence name"),
    Case("fasta", "duplicate-name", {"g.fa": ">a\nAC\n>a\nGT\n"}, None,
         "{g_fa}:3: field 'header': duplicate sequence name 'a'"),
    Case("fasta", "empty-sequence", {"g.fa": ">a\n>b\nACGT\n"}, None, "{g_fa}:1: field 'sequence': sequence 'a' is empty"),
    Case("fasta", "truncated-gzip", {"g.fa.gz": truncated(">c\n" + "ACGT" * 15_000 + "\n")}, None,
         "{g_fa_gz}:2: gzip data ends early (truncated file): copy or download the file again"),
    Case("fasta", "truncated-gzip-later", {"g.fa.gz": truncated(">c\n" + "ACGTTGCAAC\n" * 30_000)}, None,
         "{g_fa_gz}:{fasta_cut}: gzip data ends early (truncated file): copy or download the file again"),
    Case("fasta", "corrupt-gzip", {"g.fa.gz": gz(CORRUPT_DATA)[:-8] + b"\0\0\0\0\x08\0\0\0"}, None,
         "{g_fa_gz}:3: gzip data is corrupt (CRC check failed 0x0 != {crc}): copy or download the file again"),
    # ------------------------------------------------------------------ narrowPeak and BED peaks
    Case("peaks", "nine-columns", {"peaks": "chrA\t100\t300\t.\t0\t.\t5\t-1\t-1\n"}, PEAKS,
         "{peaks}:1: expected 10 tab-separated narrowPeak columns, got 9"),
    Case("peaks", "start-not-integer", {"peaks": "# c\nchrA\tx\t300\t.\t0\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:2: field 'start': not an integer: 'x'"),
    Case("peaks", "negative-start", {"peaks": "chrA\t-5\t300\t.\t0\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'start': negative start -5"),
    Case("peaks", "end-before-start", {"peaks": "chrA\t300\t100\t.\t0\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'end': end 100 is not after start 300"),
    Case("peaks", "negative-score", {"peaks": "chrA\t100\t300\t.\t-3\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'score': negative score -3"),
    Case("peaks", "bad-strand", {"peaks": "chrA\t100\t300\t.\t0\tx\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'strand': strand must be +, - or ., got 'x'"),
    Case("peaks", "nan-signal", {"peaks": "chrA\t100\t300\t.\t0\t.\tnan\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'signalValue': not a number: 'nan'"),
    Case("peaks", "summit-outside", {"peaks": "chrA\t100\t300\t.\t0\t.\t5\t-1\t-1\t200\n"}, PEAKS,
         "{peaks}:1: field 'peak': summit offset 200 is outside the peak (0..199, or -1 for none)"),
    Case("peaks", "empty-file", {"peaks": "# nothing\n\n"}, PEAKS, "{peaks}: no peaks: the file has no data lines"),
    Case("peaks", "chr-prefix", {"peaks": "A\t100\t300\t.\t0\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'chrom': no peak is on a chromosome of the genome (1 chromosomes absent: A (1); genome "
         "has chrA, chrB, chrC); names differ from the genome's only by a 'chr' prefix ('A' vs 'chrA'): use peaks "
         "and genome from the same naming convention (UCSC 'chr1' or Ensembl '1')"),
    Case("peaks", "wrong-assembly", {"peaks": "chrA\t400000\t400300\t.\t0\t.\t5\t-1\t-1\t5\n"
                                              "chrB\t250000\t250200\t.\t0\t.\t5\t-1\t-1\t5\n"}, PEAKS,
         "{peaks}:1: field 'end': 2 of 2 peaks lie past chromosome ends: wrong assembly? (first: chrA:400000-400300, "
         "and chrA has 300,000 bp)"),
    Case("peaks", "non-ascii", {"peaks": b"chrA\t100\t300\t.\t0\t.\t5\t-1\t-1\t5\nchr\xc3\xa9\t1\t2\n"}, PEAKS,
         "{peaks}:2: non-ASCII byte 0xc3 at column 4: the file must be plain ASCII text"),
    Case("peaks", "truncated-gzip", {"peaks.gz": truncated(MANY_LINES)}, {**PEAKS, "peaks": "@peaks.gz"},
         "{peaks_gz}:{peaks_cut}: gzip data ends early (truncated file): copy or download the file again"),
    Case("peaks", "qvalue-missing", {"peaks": PEAK}, {**PEAKS, "min_qvalue": 2},
         "{peaks}: field 'qValue': min_qvalue is set but the file has no qValues (all -1)"),
    Case("peaks", "no-peaks-in-dev", {"peaks": "".join(f"chrA\t{s}\t{s + 300}\t.\t0\t.\t5\t-1\t-1\t150\n"
                                                       for s in range(40_000, 280_000, 40_000))}, PEAKS,
         "<input>: field 'splits.dev': no peaks in split 'dev' (chromosomes chrB)"),
    Case("peaks", "window-too-large", {}, {**PEAKS, "peaks": "@peaks_ok", "window": 250_000},
         "<input>: field 'tasks.t.window': window of 250000 bp is larger than chromosome chrB (200000 bp)"),
    Case("peaks", "bed-two-columns", {"peaks.bed": "chrA\t100\n"}, {**BED_PEAKS, "peaks": "@peaks.bed"},
         "{peaks_bed}:1: expected at least 3 tab-separated BED columns, got 2"),
    Case("peaks", "bed-bad-score", {"peaks.bed": "chrA\t100\t300\tp\thigh\n"}, {**BED_PEAKS, "peaks": "@peaks.bed"},
         "{peaks_bed}:1: field 'score': not a number: 'high'"),
    Case("peaks", "bed-bad-strand", {"peaks.bed": "chrA\t100\t300\tp\t1\t*\n"}, {**BED_PEAKS, "peaks": "@peaks.bed"},
         "{peaks_bed}:1: field 'strand': strand must be +, - or ., got '*'"),
    Case("peaks", "bed-bom-then-bad-end", {"peaks.bed": b"\xef\xbb\xbfchrA\t100\tx\n"},
         {**BED_PEAKS, "peaks": "@peaks.bed"}, "{peaks_bed}:1: field 'end': not an integer: 'x'"),
    # ------------------------------------------------------------------ GTF and TSS BED
    Case("gtf", "eight-columns", {"genes": "chrA\tsim\texon\t1\t100\t.\t+\t.\n"}, SPLICE,
         "{genes}:1: expected 9 tab-separated GTF columns, got 8"),
    Case("gtf", "start-not-integer", {"genes": EXON.format(s="one", e=100, strand="+")}, SPLICE,
         "{genes}:1: field 'start': not an integer"),
    Case("gtf", "zero-start", {"genes": EXON.format(s=0, e=100, strand="+")}, SPLICE,
         "{genes}:1: field 'end': bad interval 0-100 (1-based, inclusive)"),
    Case("gtf", "dot-strand", {"genes": EXON.format(s=1, e=100, strand=".")}, SPLICE,
         "{genes}:1: field 'strand': exon strand must be + or -, got '.'"),
    Case("gtf", "no-transcript-id", {"genes": 'chrA\tsim\texon\t1\t100\t.\t+\t.\tgene_id "g1";\n'}, SPLICE,
         "{genes}:1: field 'attribute': exon without transcript_id"),
    Case("gtf", "bad-attributes", {"genes": 'chrA\tsim\texon\t1\t100\t.\t+\t.\tgene_id "g1"; =broken\n'}, SPLICE,
         "{genes}:1: field 'attribute': cannot parse attributes at ' =broken'"),
    Case("gtf", "two-chromosomes", {"genes": EXON.format(s=1, e=100, strand="+")
                                    + EXON.format(s=200, e=300, strand="+").replace("chrA", "chrB", 1)}, SPLICE,
         "{genes}:2: field 'transcript_id': transcript t1 is on two chromosomes or strands"),
    Case("gtf", "overlapping-exons", {"genes": EXON.format(s=1000, e=2000, strand="+")
                                      + EXON.format(s=1500, e=2500, strand="+")}, SPLICE,
         "{genes}:1: field 'exon': transcript t1 has overlapping exons"),
    Case("gtf", "no-exons", {"genes": 'chrA\tsim\tgene\t1\t100\t.\t+\t.\tgene_id "g1";\n'}, SPLICE,
         "{genes}: no transcripts with exons in the GTF"),
    Case("gtf", "wrong-assembly", {"genes": EXON.format(s=400_001, e=400_100, strand="+")
                                   + EXON.format(s=400_301, e=400_500, strand="+")}, SPLICE,
         "{genes}:2: field 'end': 1 of 1 transcripts (their last exon) lie past chromosome ends: wrong assembly? "
         "(first: chrA:400000-400500, and chrA has 300,000 bp)"),
    Case("gtf", "no-chromosome-of-genome", {"genes": EXON.format(s=1, e=100, strand="+").replace("chrA", "chrZ")},
         SPLICE, "{genes}: no transcript is on a chromosome of the genome (genome has chrA, chrB, chrC)"),
    Case("gtf", "single-exon-only", {"genes": EXON.format(s=1000, e=2000, strand="+")}, SPLICE,
         "{genes}: no multi-exon transcripts: no splice sites"),
    Case("gtf", "non-ascii", {"genes": b'chrA\tsim\texon\t1\t100\t.\t+\t.\tgene_name "\xce\xb1";\n'}, SPLICE,
         "{genes}:1: non-ASCII byte 0xce at column 38: the file must be plain ASCII text"),
    Case("gtf", "truncated-gzip", {"genes.gz": truncated("".join(EXON.format(s=1 + 300 * i, e=200 + 300 * i,
                                                                                 strand="+") for i in range(900)))},
         {**SPLICE, "annotation": "@genes.gz"},
         "{genes_gz}:{gtf_cut}: gzip data ends early (truncated file): copy or download the file again"),
    Case("gtf", "promoters-past-end", {"genes": EXON.format(s=400_001, e=400_100, strand="+")}, PROMOTERS_GTF,
         "{genes}:1: field 'end': 1 of 1 TSSs lie past chromosome ends: wrong assembly? (first: "
         "chrA:400000-400001, and chrA has 300,000 bp)"),
    Case("gtf", "tss-bed-five-columns", {"genes": "chrA\t100\t200\tp\t0\n"}, PROMOTERS_BED,
         "{genes}:1: a TSS BED needs 6 columns (with strand), got 5"),
    Case("gtf", "tss-bed-bad-strand", {"genes": "chrA\t100\t200\tp\t0\t.\n"}, PROMOTERS_BED,
         "{genes}:1: field 'strand': strand must be + or -, got '.'"),
    Case("gtf", "tss-bed-past-end", {"genes": "chrA\t300100\t300200\tq\t0\t-\nchrB\t500000\t500100\tr\t0\t+\n"
                                              "chrC\t1000\t1100\tp\t0\t+\n"}, PROMOTERS_BED,
         "{genes}:1: field 'end': 2 of 3 TSSs lie past chromosome ends (first: chrA:300199-300200, and chrA has "
         "300,000 bp); what lies past an end is dropped|<input>: field 'tasks.t': no promoters in split 'train' "
         "(the train chromosomes)"),
    # ------------------------------------------------------------------ tables
    Case("table", "csv-header", {"data.csv": "seq,label\nACGT,1\n"}, TABLE,
         "{data_csv}:1: expected the header 'sequence,label', got 'seq,label'"),
    Case("table", "csv-three-columns", {"data.csv": GUE + "ACGT,1,x\n"}, TABLE,
         "{data_csv}:2: expected 2 comma-separated columns, got 3"),
    Case("table", "csv-invalid-base", {"data.csv": GUE + "ACGT,0\nACXT,1\n"}, TABLE,
         "{data_csv}:3: field 'sequence': invalid base 'X': sequences must be ACGTN"),
    Case("table", "csv-empty-sequence", {"data.csv": GUE + ",1\n"}, TABLE,
         "{data_csv}:2: field 'sequence': empty sequence: sequences must be ACGTN"),
    Case("table", "csv-label-text", {"data.csv": GUE + "ACGT,yes\n"}, TABLE,
         "{data_csv}:2: field 'label': label must be an integer, got 'yes'"),
    Case("table", "csv-label-minus-one", {"data.csv": GUE + "ACGT,1\nACGA,-1\n"}, TABLE,
         "{data_csv}:3: field 'label': label must be 0 or more (classes are 0, 1, 2, ...), got -1"),
    Case("table", "csv-labels-0-2", {"data.csv": GUE + "ACGT,0\nACGA,0\nACGG,2\n"}, TABLE,
         "{data_csv}:4: field 'label': labels must be 0..C-1 without gaps: label 2 occurs but 1 never does "
         "(labels: 0, 2)"),
    Case("table", "csv-one-class", {"data.csv": GUE + "ACGT,1\nACGA,1\n"}, TABLE,
         "{data_csv}: field 'label': only one class (label 1) in the file: a classifier needs at least two"),
    Case("table", "one-class-over-files", {"train.csv": GUE + "ACGT,0\n", "test.csv": GUE + "ACGA,0\n"},
         {"type": "table", "files": [{"path": "@train.csv", "split": "train"}, {"path": "@test.csv", "split": "test"}]},
         "{train_csv}: field 'label': only one class (label 0) in all 2 files of the task: a classifier needs at "
         "least two"),
    Case("table", "csv-header-only", {"data.csv": GUE}, TABLE, "{data_csv}: no sequences in the file"),
    Case("table", "csv-non-ascii", {"data.csv": b"sequence,label\nACGT,1\nAC\xc2\xa0GT,0\n"}, TABLE,
         "{data_csv}:3: non-ASCII byte 0xc2 at column 3: the file must be plain ASCII text"),
    Case("table", "csv-truncated-gzip", {"data.csv.gz": truncated(GUE + "".join(
        f"{'ACGT' * 20},{i % 2}\n" for i in range(4000)))}, {**TABLE, "files": [{"path": "@data.csv.gz"}]},
         "{data_csv_gz}:{csv_cut}: gzip data ends early (truncated file): copy or download the file again"),
    Case("table", "tsv-header", {"data.tsv": "kmers\tlabel\nACG CGT\t1\n"}, {**TABLE, "files": [{"path": "@data.tsv"}]},
         "{data_tsv}:1: expected the header 'sequence<TAB>label', got 'kmers\\tlabel'"),
    Case("table", "tsv-kmers-do-not-overlap", {"data.tsv": "sequence\tlabel\nACG CGT GGA\t1\n"},
         {**TABLE, "files": [{"path": "@data.tsv"}]},
         "{data_tsv}:2: field 'sequence': k-mers 2 and 3 (CGT, GGA) do not overlap by 2"),
    Case("table", "tsv-kmer-length", {"data.tsv": "sequence\tlabel\nACG CGTA\t1\n"},
         {**TABLE, "files": [{"path": "@data.tsv"}]},
         "{data_tsv}:2: field 'sequence': k-mer 2 has length 4, expected 3"),
    Case("table", "fasta-invalid-base", {"data.fa": ">a\nACGT\n>b\nAC-GT\n"},
         {"type": "table", "files": [{"path": "@data.fa", "label": 1}]},
         "{data_fa}:3: field 'sequence': invalid base '-': sequences must be ACGTN"),
    Case("table", "fasta-empty", {"data.fa": "\n"}, {"type": "table", "files": [{"path": "@data.fa", "label": 1}]},
         "{data_fa}: no sequences in the FASTA file"),
    # ------------------------------------------------------------------ coordinate files
    Case("coordinates", "csv-header", {"a.csv": "id,chrom,start,end,strand\n" + GB_ROW, "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:1: expected the header 'id,region,start,end,strand', got 'id,chrom,start,end,strand'"),
    Case("coordinates", "csv-four-columns", {"a.csv": GB_HEADER + "1,chrA,1000,1200\n", "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: expected 5 comma-separated columns, got 4"),
    Case("coordinates", "csv-start-text", {"a.csv": GB_HEADER + "1,chrA,one,1200,+\n", "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: field 'start': not an integer: 'one'"),
    Case("coordinates", "csv-end-before-start", {"a.csv": GB_HEADER + "1,chrA,1200,1000,+\n",
                                                 "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: field 'end': end 1000 is not after start 1200"),
    Case("coordinates", "csv-bad-strand", {"a.csv": GB_HEADER + "1,chrA,1000,1200,minus\n",
                                           "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: field 'strand': strand must be +, - or empty, got 'minus'"),
    Case("coordinates", "csv-empty-region", {"a.csv": GB_HEADER + "1,,1000,1200,+\n", "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: field 'region': empty region (chromosome) name"),
    Case("coordinates", "region-not-in-genome", {"a.csv": GB_HEADER + GB_ROW + "2,chr20,5,50,\n",
                                                 "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:3: field 'chrom': 'chr20' is not a sequence of the genome {genome} (1 of 2 rows; the "
                 "genome has chrA, chrB, chrC)"),
    Case("coordinates", "past-end", {"a.csv": GB_HEADER + GB_ROW, "b.csv": GB_HEADER + "7,chrB,199900,200100,-\n"},
         TWO_GB, "{b_csv}:2: field 'end': end 200100 is past the end of chrB (200,000 bp in {genome}; 1 of 1 rows "
                 "are)"),
    Case("coordinates", "csv-header-only", {"a.csv": GB_HEADER, "b.csv": GB_HEADER + GB_ROW}, TWO_GB,
         "{a_csv}: no regions: the file has no data lines"),
    Case("coordinates", "csv-non-ascii", {"a.csv": b"id,region,start,end,strand\n\xe9,chrA,1,5,+\n",
                                          "b.csv": GB_HEADER + GB_ROW},
         TWO_GB, "{a_csv}:2: non-ASCII byte 0xe9 at column 1: the file must be plain ASCII text"),
    Case("coordinates", "csv-truncated-gzip", {"a.csv.gz": truncated(GB_HEADER + "".join(
        f"{i},chrA,{1000 + i},{1200 + i},+\n" for i in range(5000))), "b.csv": GB_HEADER + GB_ROW},
         coords(("a.csv.gz", "train", "a"), ("b.csv", "test", "b")),
         "{a_csv_gz}:{gb_cut}: gzip data ends early (truncated file): copy or download the file again"),
    Case("coordinates", "one-class", {"a.csv": GB_HEADER + GB_ROW, "b.csv": GB_HEADER + GB_ROW},
         coords(("a.csv", "train", "x"), ("b.csv", "test", "x")),
         "{a_csv}: field 'label': only one class ('x') in all 2 files of the task: a classifier needs at least two"),
    Case("coordinates", "class-not-listed", {"a.csv": GB_HEADER + GB_ROW, "b.csv": GB_HEADER + GB_ROW},
         {**TWO_GB, "classes": ["a", "c"]}, "{b_csv}:2: field 'label': class 'b' is not in the task's classes: a, c"),
    Case("coordinates", "listed-class-absent", {"a.csv": GB_HEADER + GB_ROW, "b.csv": GB_HEADER + GB_ROW},
         {**TWO_GB, "classes": ["a", "b", "c"]},
         "<input>: field 'tasks.t.classes': classes c occur in no file of the task"),
    Case("coordinates", "bed-no-label", {"r.bed": "chrA\t1000\t1200\n"}, coords(("r.bed", "train", None)),
         "{r_bed}:1: expected 3 to 6 BED columns and a label column (tab-separated), got 3 columns"),
    Case("coordinates", "bed-eight-columns", {"r.bed": "chrA\t1000\t1200\tn\t0\t+\tx\ty\n"},
         coords(("r.bed", "train", None)),
         "{r_bed}:1: expected 3 to 6 BED columns and a label column (tab-separated), got 8 columns"),
    Case("coordinates", "bed-empty-label", {"r.bed": "chrA\t1000\t1200\t \n"}, coords(("r.bed", "train", None)),
         "{r_bed}:1: field 'label': empty label"),
    Case("coordinates", "bed-labels-0-2", {"r.bed": "chrA\t1000\t1200\t0\nchrA\t2000\t2200\t2\n"},
         coords(("r.bed", "train", None)),
         "{r_bed}:2: field 'label': labels must be 0..C-1 without gaps: label 2 occurs but 1 never does (labels: 0, 2)"),
    Case("coordinates", "bed-dev-chromosome-missing", {"r.bed": "chrA\t1000\t1200\tp\t0\t+\t1\n"},
         coords(("r.bed", None, None)),
         "{genome}: field 'splits.dev': chrQ is not in this genome ({genome_list}); set splits.dev to chromosomes of "
         "the genome", splits={"dev": ["chrQ"], "test": ["chrC"]}),
    # ------------------------------------------------------------------ dataset checks over several inputs
    Case("dataset", "dev-chromosome-missing", {}, {**PEAKS, "peaks": "@peaks_ok"},
         "{genome}: field 'splits.dev': chr8 is not in this genome ({genome_list}); set splits.dev to chromosomes of "
         "the genome", splits={"dev": ["chr8"], "test": ["chrC"]}),
    Case("dataset", "test-chromosomes-missing", {}, {**SPLICE, "annotation": "@gtf_ok"},
         "{genome}: field 'splits.test': chr9, chr10 are not in this genome ({genome_list}); set splits.test to "
         "chromosomes of the genome", splits={"dev": ["chrB"], "test": ["chr9", "chr10"]}),
    Case("dataset", "no-train-chromosome", {}, {**PEAKS, "peaks": "@peaks_ok"},
         "{genome}: field 'splits': no chromosome is left for train (genome: chrA, chrB, chrC)",
         splits={"dev": ["chrA", "chrB"], "test": ["chrC"]}),
    Case("dataset", "no-negatives", {}, {**PEAKS, "peaks": "@peaks_ok", "negatives": {}},
         "<input>: field 'tasks.t.negatives': the dataset has no negatives (label 0): every row has label 1"),
    Case("dataset", "negatives-ratio-zero", {}, {**PROMOTERS_GTF, "annotation": "@gtf_ok",
                                                  "negatives": {"substitution": {"ratio": 0}}},
         "<input>: field 'tasks.t.negatives': the dataset has no negatives (label 0): every row has label 1"),
    Case("dataset", "no-nonsplice", {}, {**SPLICE, "annotation": "@gtf_ok", "nonsplice": {"ratio": 0}},
         "<input>: field 'tasks.t.nonsplice': the dataset has no non-splice windows (label 0): every row has label "
         "1 or 2"),
    Case("dataset", "class-only-in-test", {"train.csv": GUE + "ACGT,0\nACGA,1\n", "test.csv": GUE + "ACGG,2\n"},
         {"type": "table", "files": [{"path": "@train.csv", "split": "train"}, {"path": "@test.csv", "split": "test"}]},
         "<input>: field 'tasks.t': the train split has no row with label 2 (it occurs only in dev or test)"),
]


def _cut_line(data: bytes) -> int | None:
    """The line a reader of this truncated gzip stops on: complete lines before the cut, plus one."""
    try:
        return zlib.decompressobj(31).decompress(data).count(b"\n") + 1
    except zlib.error:  # not a truncated stream (the corrupt case)
        return None


def _write(root: Path, name: str, content: str | bytes) -> Path:
    path = root / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _resolve(value, paths: dict[str, Path]):
    """The task config with every ``@name`` string replaced by that file's path."""
    if isinstance(value, dict):
        return {k: _resolve(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, paths) for v in value]
    if isinstance(value, str) and value.startswith("@"):
        return str(paths[value[1:]])
    return value


def _role_files(cfg: dict) -> dict[str, str]:
    files = {role: cfg[role] for role in ("peaks", "annotation") if role in cfg}
    files.update({f"table_{i}": spec["path"] for i, spec in enumerate(cfg.get("files", []))})
    return files


def run_case(case: Case, tmp_path: Path, genome: dict) -> InputError:
    """Run the job function on the case's inputs with outputs under ``tmp_path / 'out'``; return its error."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    paths = {name: _write(inputs, name, content) for name, content in case.files.items()}
    paths |= {"peaks_ok": genome["peaks_CTCF"], "gtf_ok": genome["gtf"]}
    out = tmp_path / "out"
    with pytest.raises(InputError) as caught:
        if case.task is None:
            lengths = normalise_fasta(next(iter(paths.values())), out / "genome.fa.gz")
            write_chrom_sizes(lengths, out / "chrom.sizes")
        else:
            cfg = _resolve(case.task, paths)
            outputs = {s: out / f"{s}.tsv.gz" for s in ("train", "dev", "test")} | {"duplicates": out / "dup.json"}
            build_dataset("t", cfg, _role_files(cfg), case.splits, outputs, genome["fasta"], genome["blacklist"])
    left = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not left, f"files left behind: {left}"
    return caught.value


def expected_message(case: Case, tmp_path: Path, genome: dict) -> str:
    names = {name.replace(".", "_"): tmp_path / "in" / name for name in case.files}
    cuts = {key: _cut_line(content) for key, content in
            (("fasta_cut", case.files.get("g.fa.gz")), ("peaks_cut", case.files.get("peaks.gz")),
             ("gtf_cut", case.files.get("genes.gz")), ("csv_cut", case.files.get("data.csv.gz")),
             ("gb_cut", case.files.get("a.csv.gz"))) if isinstance(content, bytes)}
    crc = hex(zlib.crc32(CORRUPT_DATA))  # the real checksum of the corrupt-gzip case's data
    return case.expected.format(genome=genome["fasta"], genome_list=GENOME_LIST, crc=crc, **names, **cuts)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}-{c.name}" for c in CASES])
def test_bad_input_gives_one_exact_line_and_no_output(case, tmp_path, small_genome, caplog):
    error = run_case(case, tmp_path, small_genome)
    expected = expected_message(case, tmp_path, small_genome)
    if "|" in expected:  # a warning first (with file and line), then the error
        warning, expected = expected.split("|")
        assert warning in caplog.text
    assert str(error) == expected
    assert "\n" not in str(error)


def test_there_are_enough_cases_of_every_kind():
    counts = collections.Counter(case.kind for case in CASES)
    assert sum(counts.values()) >= 55 and min(counts.values()) >= 7, counts
    assert len({(c.kind, c.name) for c in CASES}) == len(CASES)


if __name__ == "__main__":
    counts = collections.Counter(case.kind for case in CASES)
    for kind, n in counts.items():
        print(f"{kind}\t{n}")
    print(f"total\t{sum(counts.values())}")
