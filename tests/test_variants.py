"""Variant effects: in-silico mutagenesis, VCF scoring, DNABERT mutation files (tiny random BERT, CPU)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from conftest import shared_file
from transformers import BertConfig, BertForSequenceClassification

from dnabert.interpret.variants import mutagenesis
from dnabert.interpret.variants.heatmap import plot_ism
from dnabert.interpret.variants.mutagenesis import ism, ism_records
from dnabert.interpret.variants.mutations import read_mutation_file, score_mutations
from dnabert.interpret.variants.scores import log_odds
from dnabert.interpret.variants.tables import read_sequence_table, write_tsv
from dnabert.cli import main
from dnabert.interpret.variants.vcf import VCF_COLUMNS, read_vcf, score_vcf
from dnabert.io import InputError
from dnabert.lm import kmer
from dnabert.lm.inference import load_classifier, predict_sequences
from dnabert.lm.models import save_model
from dnabert.lm.predict import Record

K = 3
WINDOW = 41
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny random 3-mer classifier saved as a fine-tuned model directory."""
    config = BertConfig(vocab_size=kmer.vocab_size(K), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, initializer_range=0.5, pad_token_id=kmer.PAD_ID,
                        architectures=["BertForSequenceClassification"])  # fmt: skip
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    return save_model(model, tmp_path_factory.mktemp("model") / "model", K)


@pytest.fixture(scope="module")
def model(model_dir):
    torch.set_num_threads(1)
    loaded, k = load_classifier(model_dir, torch.device("cpu"))
    assert k == K
    return loaded


def _prob(model, sequence: str, target: int = 1) -> float:
    probs, _ = predict_sequences(model, [sequence], K, device=torch.device("cpu"))
    return float(probs[0, target])


def _random_sequence(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


# --------------------------------------------------------------------------- ISM


def test_ism_scores_every_substitution_against_the_reference(model):
    seq = _random_sequence(30, 1)
    table = ism(model, seq, K)
    assert list(table.columns) == ["position", "ref", "alt", "prob_ref", "prob_alt", "delta_prob", "log_odds_ratio"]
    assert len(table) == 3 * len(seq)
    assert (table.groupby("position")["alt"].nunique() == 3).all()
    assert (table["ref"] == [seq[p] for p in table["position"]]).all()
    assert (table["ref"] != table["alt"]).all()
    assert table["prob_ref"].nunique() == 1
    assert table["prob_ref"].iloc[0] == pytest.approx(_prob(model, seq), abs=1e-6)
    row = table.iloc[47]
    mutant = seq[: row.position] + row.alt + seq[row.position + 1 :]
    assert row.prob_alt == pytest.approx(_prob(model, mutant), abs=1e-6)
    np.testing.assert_allclose(table["delta_prob"], table["prob_alt"] - table["prob_ref"])
    p, q = table["prob_alt"].to_numpy(), table["prob_ref"].to_numpy()
    np.testing.assert_allclose(table["log_odds_ratio"], np.log(p / (1 - p)) - np.log(q / (1 - q)), rtol=1e-9)
    assert table["delta_prob"].abs().max() > 0  # the random model does react to mutations


def test_log_odds_is_finite_at_zero_and_one():
    values = log_odds(np.array([0.0, 0.5, 1.0]))
    assert np.isfinite(values).all() and values[1] == 0 and values[0] == pytest.approx(-values[2])


def test_ism_mutates_all_four_bases_at_an_ambiguous_position_and_handles_long_input(model, monkeypatch):
    seq = _random_sequence(24, 2)
    seq = seq[:10] + "N" + seq[11:]
    table = ism(model, seq, K)
    assert len(table) == 3 * 23 + 4
    assert sorted(table.loc[table["position"] == 10, "alt"]) == list("ACGT")
    monkeypatch.setattr(mutagenesis, "MAX_MUTANT_BASES", 24 * 7)  # 7 mutants per pass
    sliced = ism(model, seq, K)
    pd.testing.assert_frame_equal(sliced, table, check_exact=False, atol=1e-6)


def test_ism_checks_the_target_class(model):
    with pytest.raises(InputError, match="target_class"):
        ism(model, "ACGTACGTAC", K, target_class=2)
    assert ism(model, "ACGTACGTAC", K, target_class=0)["prob_ref"].iloc[0] == pytest.approx(
        _prob(model, "ACGTACGTAC", 0), abs=1e-6)  # fmt: skip


def test_ism_heatmap_and_table_are_written(model, tmp_path):
    records = [Record("first", _random_sequence(40, 3)), Record("second", _random_sequence(35, 4))]
    table = ism_records(model, records, K)
    assert list(table["id"].unique()) == ["first", "second"] and len(table) == 3 * 75
    write_tsv(table, tmp_path / "ism.tsv")
    back = pd.read_csv(tmp_path / "ism.tsv", sep="\t")
    assert list(back.columns) == list(table.columns) and len(back) == len(table)
    plot_ism(table, tmp_path / "ism.png")
    assert (tmp_path / "ism.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".*.tmp"))


# --------------------------------------------------------------------------- VCF


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> dict[str, Path | str]:
    """A tiny genome, plain (.fai) and bgzipped (.fai, .gzi), with soft-masked lower case."""
    root = tmp_path_factory.mktemp("genome")
    chr1 = _random_sequence(400, 10)
    chr1 = chr1[:200] + chr1[200:260].lower() + chr1[260:]
    chr2 = _random_sequence(150, 11)
    plain = root / "genome.fa"
    plain.write_text(f">chr1\n{chr1}\n>chr2\n{chr2}\n")
    pysam.faidx(str(plain))
    bgzipped = root / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(bgzipped))
    pysam.faidx(str(bgzipped))
    assert Path(f"{bgzipped}.gzi").is_file()
    return {"plain": plain, "bgzip": bgzipped, "chr1": chr1.upper(), "chr2": chr2.upper()}


def _other(base: str) -> str:
    return {"A": "C", "C": "G", "G": "T", "T": "A"}[base.upper()]


def _vcf(path: Path, lines: list[str], gz: bool = False) -> Path:
    text = VCF_HEADER + "".join(line + "\n" for line in lines)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _line(chrom: str, pos: int, ref: str, alt: str, ident: str = ".") -> str:
    return f"{chrom}\t{pos}\t{ident}\t{ref}\t{alt}\t.\tPASS\t."


def _window(seq: str, pos: int) -> str:
    start = pos - 1 - WINDOW // 2
    return seq[start : start + WINDOW]


@pytest.mark.parametrize("which", ["plain", "bgzip"])
def test_vcf_snvs_are_scored_in_a_centred_window(model, genome, tmp_path, which):
    chr1 = genome["chr1"]
    ref_a, ref_b, ref_m = chr1[99], chr1[149], chr1[229]
    lines = [
        _line("chr1", 100, ref_a, _other(ref_a), "rs1"),
        _line("chr1", 150, ref_b, f"{_other(ref_b)},{_other(_other(ref_b))}", "multi"),
        _line("chr1", 200, chr1[199:201], chr1[199], "del"),
        _line("chr1", 210, chr1[209], "<DEL>", "sv"),
        _line("chr1", 230, ref_m.lower(), _other(ref_m), "lower"),  # soft-masked in the genome, lower in the VCF
        _line("chr1", 250, _other(chr1[249]), chr1[249], "wrong"),
        _line("chr1", 5, chr1[4], _other(chr1[4]), "edge"),
        _line("chr1", 390, chr1[389], _other(chr1[389]), "end"),
        _line("chrZ", 10, "A", "C", "nochrom"),
    ]
    vcf = _vcf(tmp_path / "v.vcf.gz", lines, gz=True)
    table = score_vcf(model, K, vcf, genome[which], window=WINDOW, device=torch.device("cpu"))
    assert list(table.columns) == list(VCF_COLUMNS)
    assert table["id"].tolist() == ["rs1", "multi", "multi", "del", "sv", "lower", "wrong", "edge", "end", "nochrom"]
    assert table["status"].tolist() == ["ok", "ok", "ok", "not_snv", "not_snv", "ok", "ref_mismatch",
                                        "out_of_bounds", "out_of_bounds", "unknown_chrom"]  # fmt: skip
    assert table.loc[5, "ref"] == ref_m
    scored = table["status"] == "ok"
    assert table.loc[scored, "prob_ref"].notna().all() and table.loc[~scored, VCF_COLUMNS[-4:]].isna().all().all()
    assert (table.loc[scored, "context"] == "centred").all() and (table.loc[scored, "strand"] == "+").all()
    assert table.loc[0, ["window_start", "window_end"]].tolist() == [99 - WINDOW // 2, 99 - WINDOW // 2 + WINDOW]
    window = _window(chr1, 100)
    assert window[WINDOW // 2] == ref_a
    mutant = window[: WINDOW // 2] + _other(ref_a) + window[WINDOW // 2 + 1 :]
    assert table.loc[0, "prob_ref"] == pytest.approx(_prob(model, window), abs=1e-6)
    assert table.loc[0, "prob_alt"] == pytest.approx(_prob(model, mutant), abs=1e-6)
    assert table.loc[1, "prob_ref"] == table.loc[2, "prob_ref"] and table.loc[1, "alt"] != table.loc[2, "alt"]
    assert table.loc[0, "delta_prob"] == pytest.approx(table.loc[0, "prob_alt"] - table.loc[0, "prob_ref"])

    out = tmp_path / "scores.tsv"
    write_tsv(table, out)
    rows = out.read_text().splitlines()
    assert rows[0].split("\t") == list(VCF_COLUMNS)
    assert rows[7].split("\t")[5:] == ["ref_mismatch", "centred", "+", "229", "270", "", "", "", ""]
    assert rows[4].split("\t")[5:] == ["not_snv"] + [""] * 8
    assert rows[1].split("\t")[:5] == ["chr1", "100", "rs1", ref_a, _other(ref_a)]


def test_vcf_errors_name_file_line_and_field(model, genome, tmp_path):
    chr1 = genome["chr1"]
    good = _line("chr1", 100, chr1[99], _other(chr1[99]))
    vcf = _vcf(tmp_path / "wrong.vcf", [good, _line("chr1", 120, _other(chr1[119]), chr1[119])])
    with pytest.raises(InputError) as err:
        score_vcf(model, K, vcf, genome["bgzip"], window=WINDOW, on_mismatch="error")
    message = str(err.value)
    assert str(vcf) in message and ":4:" in message and "REF" in message
    assert f"has {chr1[119]!r} at chr1:120" in message
    assert (err.value.line, err.value.field) == (4, "REF")
    flagged = score_vcf(model, K, vcf, genome["bgzip"], window=WINDOW, on_mismatch="flag")
    assert flagged["status"].tolist() == ["ok", "ref_mismatch"]

    cases = {
        "CHROM": _line("2", 10, "A", "C"),
        "POS": _line("chr2", 149, genome["chr2"][148], _other(genome["chr2"][148])),
    }
    for field, line in cases.items():
        with pytest.raises(InputError) as err:
            score_vcf(model, K, _vcf(tmp_path / f"{field}.vcf", [good, line]), genome["plain"], window=WINDOW,
                      on_mismatch="error")  # fmt: skip
        assert (err.value.line, err.value.field) == (4, field), str(err.value)
    with pytest.raises(InputError, match="window"):
        score_vcf(model, K, vcf, genome["plain"], window=600)


@pytest.mark.parametrize(
    ("line", "field", "text"),
    [
        ("chr1\t12x\t.\tA\tC\t.\t.\t.", "POS", "integer"),
        ("chr1\t0\t.\tA\tC\t.\t.\t.", "POS", "1-based"),
        ("chr1\t12\t.\tX\tC\t.\t.\t.", "REF", "bases"),
        ("chr1\t12\t.\tA\tC,?\t.\t.\t.", "ALT", "ALT allele"),
        ("chr1\t12\t.\tA\tC", None, "8 tab-separated columns"),
    ],
)
def test_bad_vcf_lines_are_input_errors(tmp_path, line, field, text):
    vcf = _vcf(tmp_path / "bad.vcf", ["chr1\t10\t.\tA\tC\t.\t.\t.", line])
    with pytest.raises(InputError, match=text) as err:
        list(read_vcf(vcf))
    assert (err.value.line, err.value.field) == (4, field)


def test_headerless_vcf_needs_tab_separated_columns(tmp_path):
    vcf = tmp_path / "min.vcf"
    vcf.write_text("chr1\t10\trs1\tA\tG,T\nchr1 11 . A C\n")
    with pytest.raises(InputError, match="separated by tabs") as err:
        list(read_vcf(vcf))
    assert err.value.line == 2
    vcf.write_text("chr1\t10\trs1\tA\tG,T,*\n")
    assert [(v.alt, v.is_snv) for v in read_vcf(vcf)] == [("G", True), ("T", True), ("*", False)]


@pytest.mark.realdata
def test_real_hg38_reference_check(model, tmp_path):
    fasta = shared_file("hg38/chr2_1-2333275.fa.gz")
    with pysam.FastaFile(str(fasta)) as handle:
        bases = {pos: handle.fetch("chr2", pos - 1, pos).upper() for pos in (20_001, 500_000, 1_234_567)}
    assert all(b in "ACGT" for b in bases.values())
    lines = [_line("chr2", pos, base, _other(base), f"v{pos}") for pos, base in bases.items()]
    lines.append(_line("chr2", 1_000_000, _other(other := _other(bases[20_001])), other, "wrong"))
    lines.append(_line("chr2", 2_333_270, "A", "C", "end"))  # the window runs past the end of the piece
    lines.append(_line("chr2", 5_000, "N", "A", "gap"))  # in the leading N gap: not an A/C/G/T SNV
    vcf = _vcf(tmp_path / "hg38.vcf", lines)
    table = score_vcf(model, K, vcf, fasta, window=101)
    with pysam.FastaFile(str(fasta)) as handle:
        mismatch = handle.fetch("chr2", 999_999, 1_000_000).upper() != _other(other)
        window = handle.fetch("chr2", 500_000 - 1 - 50, 500_000 + 50).upper()
    assert table["status"].tolist() == ["ok", "ok", "ok", "ref_mismatch" if mismatch else "ok", "out_of_bounds",
                                        "not_snv"]  # fmt: skip
    assert table.loc[1, "prob_ref"] == pytest.approx(_prob(model, window), abs=1e-6)
    wrong = _vcf(tmp_path / "wrong.vcf", [_line("chr2", 500_000, _other(bases[500_000]), "A")])
    with pytest.raises(InputError, match=rf"wrong.vcf:3: field 'REF'.*has '{bases[500_000]}' at chr2:500000"):
        score_vcf(model, K, wrong, fasta, window=101, on_mismatch="error")


# --------------------------------------------------------------------------- DNABERT mutation files


@pytest.mark.realdata
def test_dnabert_mutation_file_on_its_sample_data(model, model_dir, tmp_path):
    mutation_file = shared_file("dnabert/sample/snp_example_mut_file.txt")
    mutations = read_mutation_file(mutation_file)
    dev = shared_file("dnabert/sample/ft6_dev.tsv")
    assert [(m.idx, m.start, m.end, m.replacement) for m in mutations][-2:] == [(240, 8, 8, "A"), (325, 10, 11, "")]
    seqs, _, ids = read_sequence_table(dev)
    table = score_mutations(model, K, seqs, mutations, ids=ids)
    assert len(table) == 6 and table["alt"].tolist()[-1] == "" and table["ref"].tolist()[-2] == ""
    deleted = seqs[325][:10] + seqs[325][11:]
    assert table.loc[5, "prob_alt"] == pytest.approx(_prob(model, deleted), abs=1e-6)
    assert table.loc[0, "prob_ref"] == pytest.approx(_prob(model, seqs[0]), abs=1e-6)
    assert table.loc[0, "ref"] == seqs[0][30]
    out = tmp_path / "mut.tsv"
    assert main(["mutations", "--model", str(model_dir), "--device", "cpu", "--sequences", str(dev), "--mutations",
                 str(mutation_file), "--out", str(out)]) == 0  # fmt: skip
    written = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert written["alt"].tolist() == ["G", "T", "C", "A", "A", ""]
    np.testing.assert_allclose(written["prob_alt"], table["prob_alt"], rtol=1e-5)
    bad = tmp_path / "bad.txt"
    bad.write_text("0\t30\t31\tG\n5000\t1\t2\tA\n")
    with pytest.raises(InputError, match="idx 5000") as err:
        score_mutations(model, K, seqs, read_mutation_file(bad), mutation_path=bad)
    assert (err.value.line, err.value.field) == (2, "idx")
    bad.write_text("0\tx\t31\tG\n")
    with pytest.raises(InputError, match="start must be an integer"):
        read_mutation_file(bad)


# --------------------------------------------------------------------------- command line


def test_command_line(model_dir, genome, tmp_path):
    dataset = tmp_path / "dev.tsv.gz"
    rows = [(_random_sequence(30, 20 + i), i % 2, f"s{i}") for i in range(8)]
    with gzip.open(dataset, "wt") as handle:
        handle.write("sequence\tlabel\tname\n" + "".join(f"{s}\t{label}\t{n}\n" for s, label, n in rows))
    common = ["--model", str(model_dir), "--device", "cpu", "--threads", "1"]
    assert main(["ism", *common, "--dataset", str(dataset), "--top", "2", "--out", str(tmp_path / "ism.tsv"),
                 "--plot", str(tmp_path / "ism.png")]) == 0  # fmt: skip
    table = pd.read_csv(tmp_path / "ism.tsv", sep="\t")
    assert table["id"].nunique() == 2 and set(table["id"]) <= {"s1", "s3", "s5", "s7"} and len(table) == 180
    assert (tmp_path / "ism.png").stat().st_size > 0

    chr1 = genome["chr1"]
    vcf = _vcf(tmp_path / "v.vcf", [_line("chr1", 100, chr1[99], _other(chr1[99])),
                                    _line("chr1", 101, _other(chr1[100]), chr1[100])])  # fmt: skip
    out = tmp_path / "vcf.tsv"
    assert main(["vcf", *common, "--vcf", str(vcf), "--genome", str(genome["bgzip"]), "--window", "41",
                 "--out", str(out)]) == 0  # fmt: skip
    assert pd.read_csv(out, sep="\t")["status"].tolist() == ["ok", "ref_mismatch"]
    assert main(["vcf", *common, "--vcf", str(vcf), "--genome", str(genome["bgzip"]), "--window", "41",
                 "--on-mismatch", "error", "--out", str(tmp_path / "x.tsv")]) == 2  # fmt: skip
    assert not (tmp_path / "x.tsv").exists()
    # default window: the model's whole input (512 positions -> 510 3-mers -> 512 bp) is longer than chr1
    assert main(["vcf", *common, "--vcf", str(vcf), "--genome", str(genome["plain"]), "--out", str(out)]) == 0
    assert set(pd.read_csv(out, sep="\t")["status"]) == {"out_of_bounds"}


# --------------------------------------------------------------------------- the task's windows (issue 14)


@pytest.fixture(scope="module")
def gtf(tmp_path_factory) -> Path:
    """Two genes on chr1 of the tiny genome: tx1 on + (TSS at 0-based 99), tx2 on - (TSS at 359)."""
    path = tmp_path_factory.mktemp("gtf") / "genes.gtf"
    rows = [("100", "150", "+", "g1", "tx1"), ("200", "250", "+", "g1", "tx1"),
            ("280", "300", "-", "g2", "tx2"), ("320", "360", "-", "g2", "tx2")]  # fmt: skip
    path.write_text("".join(f'chr1\ttest\texon\t{a}\t{b}\t.\t{s}\t.\tgene_id "{g}"; transcript_id "{t}";\n'
                            for a, b, s, g, t in rows))  # fmt: skip
    return path


def test_promoter_windows_use_the_tss_relative_position_and_strand(model, genome, gtf, tmp_path):
    from dnabert.interpret.variants.windows import promoter_placement
    from dnabert.sequence import reverse_complement

    placement = promoter_placement(gtf, "gtf", 10, 5)  # the task's -10..+5 windows, 16 bp
    assert placement.width == 16
    plus = placement.place("chr1", 95)
    assert (plus.start, plus.end, plus.strand, plus.offset, plus.context) == (89, 105, "+", 6, "tss:tx1|g1")
    minus = placement.place("chr1", 362)  # 3 bp upstream of the minus-strand TSS at 359
    assert (minus.start, minus.end, minus.strand, minus.offset) == (354, 370, "-", 7)
    assert placement.place("chr1", 359).offset == 10  # the TSS itself sits at index `upstream`
    far = placement.place("chr1", 20)
    assert (far.start, far.end, far.strand, far.offset, far.context) == (12, 28, "+", 8, "centred")

    chr1 = genome["chr1"]
    alt = _other(chr1[362])
    vcf = _vcf(tmp_path / "prom.vcf", [_line("chr1", 363, chr1[362], alt, "minus"),
                                       _line("chr1", 96, chr1[95], _other(chr1[95]), "plus"),
                                       _line("chr1", 21, chr1[20], _other(chr1[20]), "far")])  # fmt: skip
    table = score_vcf(model, K, vcf, genome["bgzip"], placement=placement)
    assert table["context"].tolist() == ["tss:tx2|g2", "tss:tx1|g1", "centred"]
    assert table["strand"].tolist() == ["-", "+", "+"] and table["window_start"].tolist() == [354, 89, 12]
    window = chr1[354:370]
    mutant = window[: 362 - 354] + alt + window[362 - 354 + 1 :]
    assert table.loc[0, "prob_ref"] == pytest.approx(_prob(model, reverse_complement(window)), abs=1e-6)
    assert table.loc[0, "prob_alt"] == pytest.approx(_prob(model, reverse_complement(mutant)), abs=1e-6)
    assert table.loc[0, "prob_alt"] != pytest.approx(_prob(model, mutant), abs=1e-6)  # orientation matters
    assert table.loc[1, "prob_ref"] == pytest.approx(_prob(model, chr1[89:105]), abs=1e-6)


def test_splice_windows_sit_on_splice_sites_else_on_the_gene_strand(gtf):
    from dnabert.interpret.variants.windows import splice_placement

    placement = splice_placement(gtf, 20)
    donor = placement.place("chr1", 152)  # tx1's donor: exon 1 ends at 150 (0-based boundary 150)
    assert (donor.start, donor.end, donor.strand, donor.offset, donor.context) == (140, 160, "+", 12, "splice:donor|tx1")
    minus = placement.place("chr1", 310)  # tx2's donor on - at the boundary 319: window 309-329
    assert (minus.start, minus.strand, minus.context) == (309, "-", "splice:donor|tx2")
    inside = placement.place("chr1", 340)
    assert (inside.strand, inside.context, inside.offset) == ("-", "gene:g2", 9)
    assert placement.place("chr1", 5).context == "centred"


def test_windows_for_every_task_type(gtf, tmp_path):
    from dnabert.interpret.variants.windows import windows_for_task

    assert windows_for_task({"type": "peaks", "window": 101}, {}).description == "101 bp centred"
    prom = windows_for_task({"type": "promoters", "upstream": 249, "downstream": 50, "format": "gtf"},
                            {"annotation": gtf})  # fmt: skip
    assert prom.width == 300 and prom.description.startswith("300 bp at the task's tss windows")
    assert windows_for_task({"type": "splice", "window": 400}, {"annotation": gtf}).width == 400
    train = tmp_path / "train.tsv"
    train.write_text("sequence\tlabel\n" + "A" * 30 + "\t1\n" + "C" * 30 + "\t0\n" + "G" * 44 + "\t1\n")
    assert windows_for_task({"type": "table"}, {"train": train}).width == 30
