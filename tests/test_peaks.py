"""narrowPeak/BED parsing: strict columns, comment lines, chromosome checks, selection, summit windows."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_file
from dnabert.data.genome import read_chrom_sizes
from dnabert.io import InputError
from dnabert.data.peaks import on_genome, read_bed_peaks, read_narrowpeak, read_peaks, select_peaks, summit_windows

NRF1 = "encode/ENCFF407IVS.NRF1.top500.narrowPeak"
ROW = "chr1\t100\t400\t.\t1000\t.\t50.5\t-1\t3.2\t{summit}\n"


def write(tmp_path, text: str, name: str = "p.narrowPeak"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.realdata
def test_encode_narrowpeak_parses_with_comment_lines():
    path = shared_file(NRF1)
    assert path.read_text().startswith("#")
    peaks = read_narrowpeak(path)
    assert len(peaks) == 500
    assert peaks.line[0] == 4  # three '#' lines skipped
    first = peaks.intervals
    assert (first.chrom[0], first.start[0], first.end[0]) == ("chr1", 231337796, 231338065)
    assert peaks.summit[0] == 231337796 + 134 and peaks.signal[0] == pytest.approx(402.61372)
    sizes = read_chrom_sizes(shared_file("hg38/GRCh38.chrom.sizes"))
    assert len(on_genome(peaks, sizes)) == 500


@pytest.mark.realdata
def test_encode_peaks_on_the_chr2_piece():
    peaks = on_genome(read_narrowpeak(shared_file(NRF1)), {"chr2": 2_333_275})
    windows = summit_windows(select_peaks(peaks), 101)
    inside = windows.end <= 2_333_275
    assert inside.sum() == 1
    w = windows.take(inside)
    assert w.start[0] >= 264750 and w.end[0] <= 264986 and w.length[0] == 101


def test_summit_windows_centre_on_summit_or_midpoint(tmp_path):
    path = write(tmp_path, ROW.format(summit=10) + ROW.format(summit=-1).replace("\t100\t400", "\t1000\t1400"))
    windows = summit_windows(read_narrowpeak(path), 101)
    assert windows.start.tolist() == [110 - 50, 1200 - 50]
    assert windows.name.tolist() == ["chr1:100-400", "chr1:1000-1400"]


def test_selection_top_qvalue_and_duplicates(tmp_path):
    text = "".join([
        "track name=x\n", "browser position chr1\n", "# comment\n",
        "chr1\t100\t400\t.\t0\t.\t5\t-1\t1.0\t10\n",
        "chr1\t100\t400\t.\t0\t.\t9\t-1\t4.0\t20\n",  # duplicate interval, stronger: kept
        "chr1\t900\t1000\t.\t0\t.\t7\t-1\t3.0\t-1\n",
        "chr1\t2000\t2100\t.\t0\t.\t1\t-1\t0.5\t5\n",
    ])
    peaks = read_narrowpeak(write(tmp_path, text))
    assert len(peaks) == 4
    merged = select_peaks(peaks)
    assert len(merged) == 3 and merged.summit.tolist() == [120, 950, 2005]
    assert select_peaks(peaks, top=2).signal.tolist() == [9, 7]
    assert select_peaks(peaks, min_qvalue=2.0).signal.tolist() == [9, 7]
    with pytest.raises(InputError, match="no peak passes"):
        select_peaks(peaks, min_qvalue=100)


def test_bed_peaks_use_midpoint_and_empty_strand(tmp_path):
    path = write(tmp_path, "chr2\t15600\t16200\tname|a\t0\t\nchr2\t10\t21\n", "r.bed")
    peaks = read_bed_peaks(path)
    assert peaks.summit.tolist() == [15900, 15] and peaks.intervals.strand.tolist() == [".", "."]
    with pytest.raises(ValueError):
        read_peaks(path, "broadPeak")


@pytest.mark.realdata
def test_real_regulatory_bed_parses():
    peaks = read_bed_peaks(shared_file("hg38/chr2_1-2333275.regulatory_elements.bed"))
    assert len(peaks) == 566


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("chr1\t1\t5\t.\t0\t.\t1\t1\t1\n", 1, None, "expected 10 tab-separated narrowPeak columns, got 9"),
        ("#x\nchr1\tten\t5\t.\t0\t.\t1\t1\t1\t0\n", 2, "start", "not an integer: 'ten'"),
        ("chr1\t50\t50\t.\t0\t.\t1\t1\t1\t0\n", 1, "end", "end 50 is not after start 50"),
        ("chr1\t-5\t50\t.\t0\t.\t1\t1\t1\t0\n", 1, "start", "negative start -5"),
        ("chr1\t0\t50\t.\t0\t*\t1\t1\t1\t0\n", 1, "strand", "strand must be"),
        ("chr1\t0\t50\t.\t0\t.\tx\t1\t1\t0\n", 1, "signalValue", "not a number"),
        ("chr1\t0\t50\t.\t0\t.\t1\t1\t1\t50\n", 1, "peak", "summit offset 50 is outside the peak"),
        ("# only comments\n\n", None, None, "no peaks: the file has no data lines"),
        ("", None, None, "no peaks"),
    ],
)
def test_malformed_narrowpeak_names_file_line_and_field(tmp_path, text, line, field, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_narrowpeak(path)
    error = caught.value
    assert error.path == str(path) and error.line == line and error.field == field
    assert message in str(error)


def test_chromosome_names_without_chr_prefix_get_a_hint(tmp_path):
    path = write(tmp_path, ROW.format(summit=5).replace("chr1", "1") + ROW.format(summit=5).replace("chr1", "2"))
    peaks = read_narrowpeak(path)
    with pytest.raises(InputError) as caught:
        on_genome(peaks, {"chr1": 10_000, "chr2": 10_000})
    assert "'1' vs 'chr1'" in str(caught.value) and "prefix" in str(caught.value)
    assert caught.value.line == 1 and caught.value.field == "chrom"


def test_absent_chromosomes_are_counted_and_dropped(tmp_path, caplog):
    path = write(tmp_path, ROW.format(summit=5) + ROW.format(summit=5).replace("chr1", "chrUn_x"))
    with caplog.at_level("WARNING"):
        kept = on_genome(read_narrowpeak(path), {"chr1": 10_000})
    assert len(kept) == 1 and "chrUn_x (1)" in caplog.text
    assert np.array_equal(kept.intervals.chrom, ["chr1"])
