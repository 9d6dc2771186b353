"""Motif discovery from attention (DNABERT's motif_analysis), MEME output, TOMTOM against JASPAR."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dnabert.interpret.motifs.discovery import (
    best_shift,
    discover,
    find_high_attention,
    high_attention_regions,
    merge_motifs,
    window_inside,
    window_starts,
)
from dnabert.interpret.motifs.jaspar import TOMTOM_COLUMNS, jaspar_motifs, recovery_table, tomtom_matches, write_tomtom
from dnabert.interpret.motifs.logos import plot_logos, plot_logos_with_matches
from dnabert.interpret.motifs.meme import read_meme, write_instances, write_meme, write_summary
from dnabert.interpret.motifs.model import MotifMatrix, MotifSettings
from dnabert.interpret.motifs.pattern_search import count_containing
from dnabert.interpret.motifs.pvalues import adjust_pvalues, bh_adjust, hypergeom_pvalues
from dnabert.interpret.synthetic import synthetic_attention_data
from dnabert.io import InputError


def random_seqs(n: int, length: int | tuple[int, int], seed: int, letters: str = "ACGT") -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = np.full(n, length) if isinstance(length, int) else rng.integers(length[0], length[1], n)
    alphabet = np.array(list(letters))
    return ["".join(alphabet[rng.integers(0, len(letters), k)]) for k in lengths]


# --------------------------------------------------------------------------- a plain-Python DNABERT reference


def ref_find_high_attention(score: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """DNABERT's find_high_attention + contiguous_regions, one sequence, with loops."""
    high = (score > score.mean()) & (score > 10 * score.min())
    out, i = [], 0
    while i < len(high):
        if high[i]:
            j = i
            while j < len(high) and high[j]:
                j += 1
            if j - i >= min_len:
                out.append((i, j))
            i = j
        else:
            i += 1
    return out


def ref_bh(p: np.ndarray) -> np.ndarray:
    """q_i = min over p_j >= p_i of p_j * m / rank_j, rank_j = #{p <= p_j}."""
    m = len(p)
    ranks = [(p <= pj).sum() for pj in p]
    return np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= pi)) for pi in p])


def old_biopython_aligner():
    """Biopython's PairwiseAligner with the scores of DNABERT's time (every gap 0) and no internal gaps."""
    from Bio import Align

    aligner = Align.PairwiseAligner(match_score=1.0, mismatch_score=0.0, gap_score=0.0)
    aligner.internal_gap_score = -10000.0
    return aligner


def ref_motif_analysis(pos, neg, scores, window=24, min_len=5, pval_cutoff=0.005, min_n_motif=3):
    """DNABERT's motif_analysis with loops and Biopython (ties merged by score, see the module docstring)."""
    from scipy.stats import hypergeom

    aligner = old_biopython_aligner()
    motif_seqs: dict[str, dict] = {}
    for i, score in enumerate(scores):
        for a, b in ref_find_high_attention(np.asarray(score), min_len):
            entry = motif_seqs.setdefault(pos[i][a:b], {"seq_idx": [], "pos": []})
            entry["seq_idx"].append(i)
            entry["pos"].append((a, b))
    cands = list(motif_seqs)
    n_all = [sum(c in s for s in pos + neg) for c in cands]
    x = [sum(c in s for s in pos) for c in cands]
    p = np.array([hypergeom.sf(xi - 1, len(pos) + len(neg), len(pos), ni) for xi, ni in zip(x, n_all)])
    q = ref_bh(p) if len(p) else p
    kept = {c: motif_seqs[c] for c, qi in zip(cands, q) if qi < pval_cutoff}
    merged: dict[str, dict] = {}
    for motif in sorted(kept, key=len):
        found = []
        for key in merged:
            al = aligner.align(motif, key)[0]
            if al.score >= max(min_len - 1, 0.5 * min(len(motif), len(key))):
                found.append((al, key))
        if not found:
            merged[motif] = {"seq_idx": list(kept[motif]["seq_idx"]), "pos": list(kept[motif]["pos"])}
            continue
        best = max(al.score for al, _ in found)
        for al, key in found:
            if al.score != best:
                continue
            (qs, qe), (ks, ke) = al.aligned[0][0], al.aligned[1][0]
            left = qs - ks
            if qe <= len(motif) and ke == len(key):
                right = len(motif) - qe
            else:  # query ends first: the key overhangs on the right
                right = ke - len(key)
            merged[key]["seq_idx"].extend(kept[motif]["seq_idx"])
            merged[key]["pos"].extend((a + left, b - right) for a, b in kept[motif]["pos"])
    out = {}
    for key, inst in merged.items():
        windows = []
        for i, (a, b) in zip(inst["seq_idx"], inst["pos"]):
            left = (window - (b - a)) // 2
            s, e = a - left, a - left + window
            if s >= 0 and e < len(pos[i]):
                windows.append((i, s))
        if len(windows) >= min_n_motif:
            out[key] = sorted(windows)
    return out


# --------------------------------------------------------------------------- 1. regions


def test_find_high_attention_on_a_hand_made_vector():
    score = np.array([0.1, 0.1, 5, 5, 5, 5, 5, 0.1, 3.5, 3.5, 3.5, 3.5, 0.1, 4, 4, 4, 4, 4, 4, 0.1])
    # mean 3.175, 10 x min = 1: runs [2, 7), [8, 12) (too short: 4 < 5), [13, 19)
    assert find_high_attention(score, min_len=5).tolist() == [[2, 7], [13, 19]]
    assert find_high_attention(score, min_len=4).tolist() == [[2, 7], [8, 12], [13, 19]]
    # a run touching both ends; the 10 x minimum condition
    assert find_high_attention(np.array([2.0, 2, 2, 2, 2, 0.1, 0.1, 2, 2, 2, 2, 2]), 5).tolist() == [[0, 5], [7, 12]]
    assert find_high_attention(np.array([0.2, 0.2, 4, 4, 4, 4, 4, 0.2]), 5).tolist() == [[2, 7]]
    assert find_high_attention(np.array([1.0, 1, 4, 4, 4, 4, 4, 1]), 5).size == 0  # 4 is not > 10 x 1


def test_regions_of_many_sequences_at_once_equal_the_per_sequence_reference():
    rng = np.random.default_rng(3)
    lengths = rng.integers(0, 60, 300)
    scores = [np.convolve(rng.gamma(1.0, 1.0, k + 4), np.ones(5) / 5, mode="valid") - 0.05 * (k % 3) if k else np.zeros(0)
              for k in lengths]
    regions = high_attention_regions(scores, min_len=3)
    expected = [(i, a, b) for i, s in enumerate(scores) if len(s) for a, b in ref_find_high_attention(s, 3)]
    assert list(regions.itertuples(index=False, name=None)) == expected
    equal = np.stack([s[:20] for s in scores if len(s) >= 20])
    regions2 = high_attention_regions(equal, min_len=3)
    expected2 = [(i, a, b) for i, s in enumerate(equal) for a, b in ref_find_high_attention(s, 3)]
    assert list(regions2.itertuples(index=False, name=None)) == expected2


# --------------------------------------------------------------------------- 2. enrichment


def test_count_containing_equals_python_in_for_every_length():
    seqs = random_seqs(400, (0, 120), seed=1, letters="ACGTACGTACGTN") + ["acgtACGTacgt" * 6]
    rng = np.random.default_rng(2)
    patterns = []
    for length in [1, 2, 5, 9, 10, 11, 16, 31, 32, 33, 40, 64, 65, 70]:
        for _ in range(6):
            s = seqs[rng.integers(len(seqs))]
            if len(s) >= length:
                start = rng.integers(0, len(s) - length + 1)
                patterns.append(s[start:start + length])
        patterns.append("".join(rng.choice(list("ACGT"), length)))  # mostly absent
    patterns += ["ACGTACGTACGT", patterns[3], "acgt", "NNA", "ACGTN", "A" * 40, "CGTACGTACGTACGTACGTACGTACGTACGTACGTACG"]
    upper = [s.upper() for s in seqs]
    expected = [sum(p.upper() in s for s in upper) for p in patterns]
    assert count_containing(seqs, patterns).tolist() == expected
    assert any(len(p) > 32 and e > 0 for p, e in zip(patterns, expected))  # long candidates are exercised

    def overlapping(s, p):
        return sum(s.startswith(p, i) for i in range(len(s)))

    multi = [sum(overlapping(s, p.upper()) for s in upper) for p in patterns]
    assert count_containing(seqs, patterns, allow_multi_match=True).tolist() == multi


def test_hypergeometric_pvalues_equal_scipy_one_at_a_time():
    from scipy.stats import hypergeom

    rng = np.random.default_rng(0)
    pos = rng.integers(0, 60, 200)
    neg = rng.integers(0, 60, 200)
    pos[:3], neg[:3] = 0, [0, 5, 60]
    got = hypergeom_pvalues(pos, neg, 60, 70)
    want = [hypergeom.sf(x - 1, 130, 60, x + y) for x, y in zip(pos, neg)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005 0.01 0.03 0.04 -> x 4/rank: 0.02 0.02 0.04 0.04 -> running minimum from the top
    np.testing.assert_allclose(bh_adjust(p), [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(1)
    q = rng.random(60) ** 3
    q[5:9] = q[4]  # ties
    np.testing.assert_allclose(bh_adjust(q), ref_bh(q), rtol=1e-12)
    from scipy.stats import false_discovery_control

    np.testing.assert_allclose(bh_adjust(q), false_discovery_control(q), rtol=1e-12)
    assert bh_adjust(np.array([])).size == 0
    np.testing.assert_allclose(adjust_pvalues(np.array([0.1, 0.3]), "bonferroni"), [0.2, 0.6])


# --------------------------------------------------------------------------- 3. merging


def test_best_shift_equals_biopython_first_alignment():
    aligner = old_biopython_aligner()
    rng = np.random.default_rng(0)
    for _ in range(400):
        lk = int(rng.integers(3, 10))
        lq = int(rng.integers(lk, 14))
        q = "".join(rng.choice(list("ACGT"), lq))
        k = "".join(rng.choice(list("ACGT"), lk))
        al = aligner.align(q, k)[0]
        score, shift = best_shift(q, k)
        assert score == al.score
        if score > 0:
            assert shift == al.aligned[0][0][0] - al.aligned[1][0][0], (q, k)


def test_merge_motifs_of_overlapping_candidates():
    cands = ["GACGTA", "ACGTA", "TTTTT", "ACGTAC", "CACGTAT"]
    merge = merge_motifs(cands, min_len=5)
    rows = list(merge.itertuples(index=False, name=None))
    # shortest first: ACGTA and TTTTT become keys; ACGTAC (shift 0), GACGTA (shift 1) and
    # CACGTAT (shift 1) align to ACGTA with 5 matches >= max(4, 2.5)
    assert rows == [(1, 1, 0), (2, 2, 0), (0, 1, 1), (3, 1, 0), (4, 1, 1)]
    # a key that overhangs: AACGT on ACGTA is 4 matches at shift 1 (A|ACGT|-)
    assert merge_motifs(["ACGTA", "AACGT"], min_len=5).values.tolist() == [[0, 0, 0], [1, 0, 1]]
    # ties: ACGTTA aligns equally well (4 matches) to keys ACGTC (shift 0) and CCTTA (shift 1)
    tied = merge_motifs(["ACGTC", "CCTTA", "ACGTTA"], min_len=5)
    assert tied.values.tolist() == [[0, 0, 0], [1, 1, 0], [2, 0, 0], [2, 1, 1]]
    first = merge_motifs(["ACGTC", "CCTTA", "ACGTTA"], min_len=5, align_all_ties=False)
    assert first.values.tolist() == [[0, 0, 0], [1, 1, 0], [2, 0, 0]]
    strict = merge_motifs(["ACGTC", "CCTTA", "ACGTTA"], min_len=5, align_cond=5)
    assert strict["key"].tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- 4. windows


def test_window_centring_and_bounds():
    # even difference: 24 - 6 = 18 -> 9 each side; odd: 24 - 5 = 19 -> 9 left, 10 right (as DNABERT)
    assert window_starts(np.array([10, 10, 3]), np.array([6, 5, 30]), 24).tolist() == [1, 1, 6]
    assert window_starts(np.array([10]), np.array([25]), 24).tolist() == [11]  # longer than the window: shrinks
    starts = np.array([-1, 0, 76, 77])
    assert window_inside(starts, np.full(4, 101), 24).tolist() == [False, True, True, False]  # DNABERT: end < length
    assert window_inside(starts, np.full(4, 101), 24, strict_end=False).tolist() == [False, True, True, True]


# --------------------------------------------------------------------------- the pipeline


def planted_small(seed: int = 0):
    rng = np.random.default_rng(seed)
    pos = random_seqs(80, (40, 70), seed=seed)
    neg = random_seqs(80, 60, seed=seed + 100)
    scores = []
    for i, s in enumerate(pos):
        start = int(rng.integers(0, len(s) - 8))
        core = ["TGACTCAT", "TGACTCA", "GACTCAT", "CCAATCGG", "CCAATCG"][i % 5]
        pos[i] = s[:start] + core + s[start + len(core):]
        sc = rng.random(len(s)) * 0.8 + 0.05
        sc[start:start + len(core)] += 2.0
        scores.append(sc)
    return pos, neg, scores


def test_discover_equals_the_dnabert_reference():
    pos, neg, scores = planted_small()
    settings = MotifSettings(window=16, min_len=5, pval_cutoff=0.05, min_n_motif=2)
    result = discover(pos, neg, scores, settings)
    expected = ref_motif_analysis(pos, neg, scores, window=16, min_len=5, pval_cutoff=0.05, min_n_motif=2)
    assert len(result.motifs) >= 2
    got = {}
    for m in result.motifs:
        inst = result.instances[result.instances["motif"] == m.id]
        got[m.seed] = sorted(zip(inst["seq_index"].tolist(), inst["start"].tolist()))
    assert got == expected
    for m in result.motifs:  # counts are those of the windows
        inst = result.instances[result.instances["motif"] == m.id]
        assert m.n_instances == len(inst)
        assert m.counts.sum() == 16 * len(inst)
        assert all(pos[i][s:s + 16] == w for i, s, w in zip(inst["seq_index"], inst["start"], inst["sequence"]))
    assert [m.n_instances for m in result.motifs] == sorted((m.n_instances for m in result.motifs), reverse=True)
    by_p = discover(pos, neg, scores, MotifSettings(window=16, min_len=5, pval_cutoff=0.05, min_n_motif=2,
                                                     sort_by="pvalue"))
    assert {m.seed for m in by_p.motifs} == set(expected)
    assert [m.padj for m in by_p.motifs] == sorted(m.padj for m in by_p.motifs)
    cands = result.candidates
    assert (cands["significant"] == (cands["padj"] < 0.05)).all()
    assert set(result.stats) >= {"regions", "candidates", "significant", "keys", "instances", "motifs"}


def test_discover_handles_nothing_found_and_bad_input():
    pos = random_seqs(10, 30, seed=1)
    flat = [np.ones(30)] * 10  # nothing above the mean
    result = discover(pos, random_seqs(10, 30, seed=2), flat)
    assert result.motifs == [] and result.instances.empty and result.summary().empty
    with pytest.raises(InputError, match="sequence 3: 29 scores for 30 bases"):
        discover(pos, pos, [np.ones(30)] * 3 + [np.ones(29)] + [np.ones(30)] * 6)
    with pytest.raises(InputError, match="9 score arrays for 10 sequences"):
        discover(pos, pos, [np.ones(30)] * 9)
    bad = [np.ones(30) for _ in range(10)]
    bad[7][4] = np.nan
    with pytest.raises(InputError, match="sequence 7 has non-finite scores"):
        discover(pos, pos, bad)
    with pytest.raises(InputError, match="one string"):
        discover("ACGT", pos, [np.ones(4)])
    with pytest.raises(InputError, match="motifs.window"):
        MotifSettings(window=0)
    with pytest.raises(InputError, match="motifs.p_adjust"):
        MotifSettings(p_adjust="holm")


def test_allow_multi_match_counts_each_sequence_once_in_the_test():
    """Issue 14: a candidate repeated in every sequence gave n > N to the hypergeometric test (NaN), and the NaN made
    every Benjamini-Hochberg value NaN, so no motif came out. Now the test counts sequences; occurrences are reported."""
    rng = np.random.default_rng(5)
    repeat = "ACGTTGCA"
    pos, scores = [], []
    for i in range(40):
        seq = list(rng.choice(list("ACGT"), 60))
        seq[5:13], seq[30:38] = repeat, repeat  # twice in every positive
        pos.append("".join(seq))
        score = np.full(60, 0.01)
        score[5:13] = score[30:38] = 1.0
        scores.append(score)
    neg = random_seqs(40, 60, seed=6)
    plain = discover(pos, neg, scores, MotifSettings(min_len=5))
    multi = discover(pos, neg, scores, MotifSettings(min_len=5, allow_multi_match=True))
    assert multi.motifs and [m.consensus for m in multi.motifs] == [m.consensus for m in plain.motifs]
    assert np.isfinite(multi.candidates["padj"]).all()
    np.testing.assert_array_equal(multi.candidates["padj"], plain.candidates["padj"])
    row = multi.candidates.set_index("sequence").loc[repeat]
    assert row["pos_count"] == 40 and row["pos_occurrences"] == 80  # occurrences reported, sequences tested
    with pytest.raises(InputError, match="counts must be of sequences"):
        hypergeom_pvalues(np.array([80]), np.array([0]), 40, 40)


def test_benjamini_hochberg_leaves_nan_out():
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.005])
    adjusted = bh_adjust(p)
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(adjusted[[0, 2, 3, 4]], [0.02, 0.04, 0.04, 0.02])  # as if the NaN were absent
    assert np.isnan(bh_adjust(np.array([np.nan, np.nan]))).all()
    np.testing.assert_allclose(adjust_pvalues(np.array([0.1, np.nan, 0.3]), "bonferroni"), [0.2, np.nan, 0.6])


# --------------------------------------------------------------------------- outputs


def test_meme_round_trip_through_memelite(tmp_path):
    from memelite.io import read_meme as memelite_read_meme

    pos, neg, scores = planted_small(1)
    result = discover(pos, neg, scores, MotifSettings(window=12, pval_cutoff=0.05, min_n_motif=2))
    extra = MotifMatrix("MA_test.1", "two words", np.array([[0.7, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.7]]))
    path = tmp_path / "motifs.meme"
    write_meme([*result.motifs, extra], path, background=result.background)
    back = memelite_read_meme(str(path))
    assert list(back) == [f"{m.id} {m.seed}" for m in result.motifs] + ["MA_test.1 two_words"]
    for m, pwm in zip([*result.motifs, extra], back.values()):
        np.testing.assert_allclose(pwm, m.probs, atol=1e-6)
    assert set(read_meme(path)) == {m.id for m in result.motifs} | {"MA_test.1"}
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n")
    m = result.motifs[0]
    assert f"letter-probability matrix: alength= 4 w= 12 nsites= {m.n_instances} E= " in text


def test_instances_tsv_and_bed(tmp_path):
    pos, neg, scores = planted_small(2)
    result = discover(pos, neg, scores, MotifSettings(window=12, pval_cutoff=0.05, min_n_motif=2))
    assert result.motifs
    names = [f"peak{i}" for i in range(len(pos))]
    coords = pd.DataFrame({"chrom": ["chr1", "chr2"] * 40, "start": np.arange(80) * 1000,
                           "end": np.arange(80) * 1000 + np.array([len(s) for s in pos]), "strand": ["+", "-"] * 40})
    write_instances(result, tmp_path / "inst.tsv", names=names, bed_path=tmp_path / "inst.bed", coords=coords)
    table = pd.read_csv(tmp_path / "inst.tsv", sep="\t")
    assert list(table.columns) == ["motif", "seq_index", "name", "start", "end", "strand", "sequence"]
    assert (table["name"] == [f"peak{i}" for i in table["seq_index"]]).all()
    bed = pd.read_csv(tmp_path / "inst.bed", sep="\t", header=None)
    assert len(bed) == len(table) and (bed[2] - bed[1] == 12).all()
    row = table.iloc[0]
    i = int(row["seq_index"])
    g = bed[(bed[0] == coords["chrom"][i]) & (bed[1] >= i * 1000) & (bed[2] <= i * 1000 + len(pos[i]))]
    if coords["strand"][i] == "+":
        assert (i * 1000 + row["start"]) in g[1].tolist()
    else:
        assert (i * 1000 + len(pos[i]) - row["end"]) in g[1].tolist()
    write_summary(result.motifs, tmp_path / "summary.tsv")
    summary = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert summary["motif"].tolist() == [m.id for m in result.motifs]
    with pytest.raises(InputError, match="genomic coordinates"):
        write_instances(result, tmp_path / "x.tsv", bed_path=tmp_path / "x.bed")


def test_recovery_table_ignores_versions_unless_asked():
    tt = pd.DataFrame({"query": ["motif_1", "motif_2", "motif_2", "motif_3"], "rank": [1, 1, 2, 1],
                       "target_id": ["MA0139.1", "MA0138.3", "MA0139.2", "MA1930.2"],
                       "target_name": ["CTCF", "REST", "CTCF", "CTCF"], "pvalue": [1e-9, 1e-3, 1e-6, 1e-12],
                       "qvalue": [1e-6, 0.2, 1e-4, 1e-9]})
    rec = recovery_table(tt, {"CTCF": "MA0139.2", "REST": "MA0138.3", "TBP": "MA0108.3"})
    assert rec["recovered"].tolist() == [True, False, False]
    assert rec.loc[0, "motif"] == "motif_1" and rec.loc[0, "matched_id"] == "MA0139.1"
    exact = recovery_table(tt, {"CTCF": "MA0139.2"}, match_version=True)
    assert exact.loc[0, "matched_id"] == "MA0139.2" and exact.loc[0, "best_qvalue"] == 1e-4
    named = recovery_table(tt, {"CTCF": "MA0139.2"}, match_name=True)
    assert named.loc[0, "matched_id"] == "MA1930.2" and named.loc[0, "motif"] == "motif_3"


@pytest.fixture(scope="module")
def jaspar():
    return jaspar_motifs("JASPAR2024")


def test_planted_ctcf_is_recovered_and_matched_to_jaspar(tmp_path, jaspar):
    """End to end: CTCF sites (MA0139.2) in 500 positives, attention over their cores -> TOMTOM's best match."""
    by_id = {m.id: m for m in jaspar}
    assert len(jaspar) > 500 and "MA0139.2" in by_id and "MA0138.3" in by_id
    ctcf = by_id["MA0139.2"].probs
    pos, neg, scores, _ = synthetic_attention_data(ctcf, 500, 500, seed=1)
    result = discover(pos, neg, scores)
    assert result.motifs and result.motifs[0].n_instances > 50
    tt = tomtom_matches(result.motifs, jaspar, n_best=5)
    top = tt[(tt["query"] == "motif_1") & (tt["rank"] == 1)].iloc[0]
    assert top["target_id"].startswith("MA0139") and top["qvalue"] < 0.05
    assert (tt.groupby("query")["pvalue"].apply(lambda p: p.is_monotonic_increasing)).all()
    rec = recovery_table(tt, {"CTCF": "MA0139.2", "REST": "MA0138.3"})
    assert rec["recovered"].tolist() == [True, False]
    # q-values: Benjamini-Hochberg over each query's p-values against all targets
    full = tomtom_matches(result.motifs[:2], jaspar, n_best=None)
    for _, group in full.groupby("query"):
        np.testing.assert_allclose(group["qvalue"], bh_adjust(group["pvalue"].to_numpy()))
        np.testing.assert_allclose(group["evalue"], group["pvalue"] * len(jaspar))
    write_tomtom(tt, tmp_path / "tomtom.tsv")
    assert pd.read_csv(tmp_path / "tomtom.tsv", sep="\t").columns.tolist() == TOMTOM_COLUMNS
    logos = plot_logos(result.motifs[:2], tmp_path / "logos")
    matched = plot_logos_with_matches(result.motifs[:2], tt, jaspar, tmp_path / "logos")
    for path in logos + matched:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
