"""Annotation: GTF transcripts, TSS/promoter windows, splice sites against the simulation's truth, TATA scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnabert.data.annotation import (
    boundary_windows, distance_to_nearest, gene_spans, promoter_windows, read_gtf_transcripts,
    sample_gene_positions, splice_sites, tata_scan, tss_from_bed, tss_from_gtf,
)
from dnabert.data.intervals import GenomeSequence
from dnabert.sequence import to_strings
from dnabert.io import InputError


@pytest.fixture(scope="module")
def truth(small_genome):
    return pd.read_csv(small_genome["truth"], sep="\t")


def test_gtf_transcripts_and_tss(small_genome):
    transcripts = read_gtf_transcripts(small_genome["gtf"])
    assert len(transcripts) >= 30 and all(len(t.exons) >= 2 for t in transcripts)
    tss = tss_from_gtf(small_genome["gtf"])
    assert len(tss) == len({(t.chrom, t.tss, t.strand) for t in transcripts})
    windows = promoter_windows(tss, 249, 50)
    assert (windows.length == 300).all()
    plus = tss.strand == "+"
    assert (windows.start[plus] == tss.pos[plus] - 249).all()
    assert (windows.end[~plus] == tss.pos[~plus] + 250).all()


def test_splice_sites_match_the_planted_truth(small_genome, truth):
    donors, acceptors = splice_sites(read_gtf_transcripts(small_genome["gtf"]))
    # truth.tsv: donor AG|GTRAGT (8 bp), acceptor Y12 N YAG|G (17 bp), recorded on the + strand.
    for sites, feature, plus_offset, minus_offset in ((donors, "donor", 2, 6), (acceptors, "acceptor", 16, 1)):
        rows = truth[truth["feature"] == feature]
        expected = {(c, s + (plus_offset if st == "+" else minus_offset), st)
                    for c, s, st in zip(rows["chrom"], rows["start"], rows["strand"])}
        assert {(c, int(p), s) for c, p, s in zip(sites.chrom, sites.pos, sites.strand)} == expected
    with GenomeSequence(small_genome["fasta"]) as genome:
        donor_seqs = to_strings(genome.windows(boundary_windows(donors, 400)))
        acceptor_seqs = to_strings(genome.windows(boundary_windows(acceptors, 401)))
    assert all(s[200:202] == "GT" for s in donor_seqs)
    assert all(s[198:200] == "AG" for s in acceptor_seqs)


def test_decoys_carry_gt_or_ag_and_keep_away_from_sites(small_genome):
    transcripts = read_gtf_transcripts(small_genome["gtf"])
    donors, _ = splice_sites(transcripts)
    spans = gene_spans(transcripts)
    rng = np.random.default_rng(0)
    with GenomeSequence(small_genome["fasta"]) as genome:
        for decoy, at in (("GT", slice(100, 102)), ("AG", slice(98, 100))):
            found = sample_gene_positions(spans, 50, rng, genome, decoy)
            assert len(found) == 50
            assert all(s[at] == decoy for s in to_strings(genome.windows(boundary_windows(found, 200))))
    plain = sample_gene_positions(spans, 200, rng)
    inside = [(spans.chrom == c) & (spans.start <= p) & (spans.end > p) for c, p in zip(plain.chrom, plain.pos)]
    assert all(mask.any() for mask in inside)
    assert distance_to_nearest(donors, donors).max() == 0


def test_tata_scan_finds_planted_tata_boxes(small_genome, truth):
    tss = tss_from_gtf(small_genome["gtf"])
    with GenomeSequence(small_genome["fasta"]) as genome:
        has = tata_scan(genome.windows(promoter_windows(tss, 40, -10)), 1e-3)
    planted = set(truth.loc[truth["feature"] == "tata_box", "name"])
    is_planted = np.array([name.split("|")[0] in planted for name in tss.name])
    assert is_planted.sum() >= 5
    assert (has & is_planted).sum() >= 0.6 * is_planted.sum()
    assert (has & ~is_planted).sum() <= 1


def test_tss_from_epd_style_bed(tmp_path):
    bed = tmp_path / "epd.bed"
    bed.write_text("chr1\t959245\t959305\tNOC2L_1\t900\t-\t959255\t959256\n"
                   "chr1\t100\t160\tA_1\t900\t+\n"
                   "chr1\t300\t360\tB_1\t900\t-\n")
    tss = tss_from_bed(bed)
    assert dict(zip(tss.name, tss.pos.tolist())) == {"NOC2L_1": 959255, "A_1": 100, "B_1": 359}
    # EPDnew's own files: space-separated, thick part = TSS to +10 (hg38 Hs_EPDnew_006 rows)
    epd = tmp_path / "Hs_EPDnew_006_hg38.bed"
    epd.write_text("chr1 959245 959305 NOC2L_1 900 - 959245 959256\n"
                   "chr1 960583 960643 KLHL17_1 900 + 960632 960643\n")
    tss = tss_from_bed(epd)
    assert dict(zip(tss.name, tss.pos.tolist())) == {"NOC2L_1": 959255, "KLHL17_1": 960632}
    assert tss.strand.tolist() == ["-", "+"]
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\t100\t160\tA_1\t900\t.\n")
    with pytest.raises(InputError, match="strand must be"):
        tss_from_bed(bad)


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("chr1\tx\texon\t10\t20\t.\t+\t.\n", None, "expected 9 tab-separated GTF columns"),
        ('chr1\tx\texon\t10\t5\t.\t+\t.\ttranscript_id "t";\n', "end", "bad interval"),
        ('chr1\tx\texon\t10\t20\t.\t.\t.\ttranscript_id "t";\n', "strand", "strand must be + or -"),
        ('chr1\tx\texon\t10\t20\t.\t+\t.\tgene_id "g";\n', "attribute", "without transcript_id"),
    ],
)
def test_bad_gtf_names_line_and_field(tmp_path, line, field, message):
    gtf = tmp_path / "bad.gtf"
    gtf.write_text("#!genome-build x\n" + line)
    with pytest.raises(InputError) as caught:
        read_gtf_transcripts(gtf)
    assert caught.value.line == 2 and caught.value.field == field and message in str(caught.value)


def test_exons_past_a_chromosome_end_are_warned_about_with_file_and_line(tmp_path, caplog):
    from dnabert.data.annotation import transcripts_on_genome

    gtf = tmp_path / "genes.gtf"
    exon = 'chr1\tx\texon\t{}\t{}\t.\t+\t.\tgene_id "g{}"; transcript_id "t{}";\n'
    gtf.write_text(exon.format(101, 200, 1, 1) + exon.format(301, 400, 1, 1)
                   + exon.format(901, 950, 2, 2) + exon.format(990, 1200, 2, 2) + exon.format(50, 80, 3, 3))
    with caplog.at_level("WARNING"):
        kept = transcripts_on_genome(read_gtf_transcripts(gtf), {"chr1": 1000}, gtf)
    assert [t.transcript_id for t in kept] == ["t3", "t1", "t2"]  # kept: their windows past the end drop later
    assert (f"{gtf}:4: field 'end': 1 of 3 transcripts (their last exon) lie past chromosome ends (first: "
            "chr1:900-1200, and chr1 has 1,000 bp)") in caplog.text
    with pytest.raises(InputError, match=r":2: field 'end': 2 of 2 transcripts .* wrong assembly\?"):
        transcripts_on_genome(read_gtf_transcripts(gtf)[1:], {"chr1": 300}, gtf)
