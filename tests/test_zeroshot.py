"""Zero-shot variant effects from a masked LM: the definition, its symmetries, and a VCF on real hg38 pieces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest
import torch
from conftest import shared_file

from dnabert.interpret.variants.zeroshot import (
    BASE_ORDER,
    ZEROSHOT_COLUMNS,
    load_masked_lm,
    score_vcf_zeroshot,
    site_scores,
    zeroshot_file,
)
from dnabert.io import InputError
from dnabert.lm import kmer

K = 3
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def mlm(tiny_bert):
    torch.set_num_threads(1)
    model, k, _ = load_masked_lm(tiny_bert["release"], "cpu")
    assert k == K
    return model


def _random_sequence(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


def _brute_force(model, window: str, offset: int) -> np.ndarray:
    """S(b) by the definition, one masked forward pass through the whole MLM (all positions' logits)."""
    ids = torch.from_numpy(kmer.encode(window, K))[None]
    covering = np.arange(offset - K + 1, offset + 1)
    masked = ids.clone()
    masked[0, covering + 1] = kmer.MASK_ID
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=masked).logits[0, :, kmer.N_SPECIAL :], dim=-1).numpy()
    out = []
    for base in BASE_ORDER:
        mutant = window[:offset] + base + window[offset + 1 :]
        mutant_ids = kmer.kmer_ids(mutant, K).astype(np.int64)
        out.append(sum(logp[j + 1, mutant_ids[j] - kmer.N_SPECIAL] for j in covering))
    return np.array(out)


def test_site_scores_follow_the_definition(mlm):
    windows = [_random_sequence(21, seed) for seed in range(6)]
    offsets = np.array([10, 10, 10, 2, 18, 10])
    scores, used = site_scores(mlm, K, windows, offsets, batch_size=4)
    assert scores.shape == (6, 4) and used.tolist() == [3] * 6
    for i in (0, 3, 4):
        np.testing.assert_allclose(scores[i], _brute_force(mlm, windows[i], offsets[i]), atol=1e-4)
    assert np.isfinite(scores).all() and (scores < 0).all()


def test_reference_is_zero_and_alt_genome_flips_the_sign(mlm):
    window = _random_sequence(41, 7)
    ref = window[20]
    alt = next(b for b in "ACGT" if b != ref)
    alt_window = window[:20] + alt + window[21:]
    scores, _ = site_scores(mlm, K, [window, alt_window], np.array([20, 20]))
    llr = scores[0, BASE_ORDER.index(alt)] - scores[0, BASE_ORDER.index(ref)]
    back = scores[1, BASE_ORDER.index(ref)] - scores[1, BASE_ORDER.index(alt)]
    assert scores[0, BASE_ORDER.index(ref)] - scores[0, BASE_ORDER.index(ref)] == 0
    assert llr != 0 and back == pytest.approx(-llr, abs=1e-5)
    np.testing.assert_allclose(scores[0], scores[1], atol=1e-5)  # the masked input does not see the site's base


def test_an_n_near_the_site_leaves_its_kmer_out(mlm):
    window = _random_sequence(21, 8)
    window = window[:11] + "N" + window[12:]  # in the k-mers at 9, 10, 11; those at 9 and 10 also cover the site
    _, used = site_scores(mlm, K, [window], np.array([10]))
    assert used.tolist() == [1]


def test_a_classifier_is_refused(tiny_bert):
    with pytest.raises(InputError, match="masked-LM head"):
        load_masked_lm(tiny_bert["classifier"], "cpu")


def _vcf(path, lines):
    path.write_text(VCF_HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n" for c, p, i, r, a in lines))
    return path


@pytest.mark.realdata
def test_zero_shot_scores_on_real_hg38_pieces(mlm, tiny_bert, tmp_path):
    """SNVs on hg38 chr20/chr21 (REF from the genome): REF-matched, finite, alt-genome sign flip, flags."""
    genome = shared_file("hg38/grch38.chr20_and_21_10M.fa.gz")
    rng = np.random.default_rng(20)
    lines = []
    with pysam.FastaFile(str(genome)) as fasta:
        for pos in sorted(rng.choice(np.arange(1_000_000, 9_000_000), 24, replace=False).tolist()):
            ref = fasta.fetch("chr20", pos - 1, pos).upper()
            if ref in "ACGT":
                alts = [b for b in "ACGT" if b != ref]
                lines.append(("chr20", pos, f"rs{pos}", ref, ",".join(alts[:2]) if pos % 2 else alts[0]))
        first = lines[0]
        wrong = next(b for b in "ACGT" if b != first[3])
        lines.append(("chr20", first[1], "wrong", wrong, first[3]))
        n_pos = next(p for p in range(9_400_000, 9_900_000, 1000) if fasta.fetch("chr21", p - 1, p) == "N")
        end = next(p for p in range(9_999_990, 9_999_000, -1) if fasta.fetch("chr20", p - 1, p).upper() in "CGT")
        lines += [("chr21", n_pos, "gap", "N", "A"), ("chr20", end, "end", fasta.fetch("chr20", end - 1, end).upper(),
                  "A"), ("chrX", 100, "nochrom", "A", "C")]  # fmt: skip
        context = fasta.fetch("chr20", first[1] - 1 - 50, first[1] + 50).upper()
    vcf = _vcf(tmp_path / "hg38.vcf", lines)
    out = tmp_path / "zeroshot.tsv"
    table = zeroshot_file(tiny_bert["release"], vcf, genome, out, window=101, device="cpu")
    assert list(table.columns) == list(ZEROSHOT_COLUMNS)
    ok = table["status"] == "ok"
    assert table["status"].tolist()[-4:] == ["ref_mismatch", "not_snv", "out_of_bounds", "unknown_chrom"]
    assert ok.sum() == len(table) - 4 and ok.sum() > 24
    assert np.isfinite(table.loc[ok, "llr"]).all() and (table.loc[ok, "kmers"] == K).all()
    np.testing.assert_allclose(table.loc[ok, "llr"], table.loc[ok, "logp_alt"] - table.loc[ok, "logp_ref"])
    assert table.loc[~ok, "llr"].isna().all() and table.loc[ok, "llr"].std() > 0
    multi = table[ok & table.duplicated("pos", keep=False)]
    assert multi.groupby("pos")["logp_ref"].nunique().eq(1).all()  # alleles of a site share its pass
    written = pd.read_csv(out, sep="\t")
    np.testing.assert_allclose(written.loc[ok, "llr"], table.loc[ok, "llr"], rtol=1e-5)

    # The ALT genome (the first SNV applied) scored back to REF gives exactly -llr.
    alt_fasta = tmp_path / "alt.fa"
    ref_base, alt_base = first[3], first[4].split(",")[0]
    assert context[50] == ref_base
    alt_fasta.write_text(f">piece\n{context[:50]}{alt_base}{context[51:]}\n")
    pysam.faidx(str(alt_fasta))
    back = score_vcf_zeroshot(mlm, K, _vcf(tmp_path / "back.vcf", [("piece", 51, "back", alt_base, ref_base)]),
                              alt_fasta, window=101)  # fmt: skip
    forward = table.loc[(table["id"] == first[2]) & (table["alt"] == alt_base), "llr"].iloc[0]
    assert back.loc[0, "status"] == "ok" and back.loc[0, "llr"] == pytest.approx(-forward, abs=1e-4)

    with pytest.raises(InputError, match=r"hg38.vcf:\d+: field 'REF'"):
        score_vcf_zeroshot(mlm, K, vcf, genome, window=101, on_mismatch="error")
    with pytest.raises(InputError, match="window"):
        score_vcf_zeroshot(mlm, K, vcf, genome, window=4)
