"""Per-nucleotide attention (DNABERT's computation, every layer and head), the scores file and the plots."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import BertForSequenceClassification

from conftest import tiny_classifier
from dnabert.lm import kmer
from dnabert.interpret.attention import attention_scores, head_attention, plot_heatmap, plot_profile
from dnabert.interpret.attribution import integrated_gradients
from dnabert.interpret.scores import BaseScores, ScoredSet, agreement, spread_kmer_scores, unit_norm
from dnabert.io import InputError

K = 3
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> BertForSequenceClassification:
    return tiny_classifier(K, attn_implementation="sdpa")


def random_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def test_spreading_matches_a_hand_computed_example():
    # k = 3, k-mer scores 1, 2, 3 over 5 bases: base 0 is covered by k-mer 0 only,
    # base 1 by k-mers 0-1, base 2 by 0-2, base 3 by 1-2, base 4 by 2.
    assert np.allclose(spread_kmer_scores(np.array([1.0, 2.0, 3.0]), 3), [1, 1.5, 2, 2.5, 3])
    # k = 2: bases 0..3 from k-mers [4, 0, 2]
    assert np.allclose(spread_kmer_scores(np.array([4.0, 0.0, 2.0]), 2), [4, 2, 1, 2])
    assert np.isclose(np.linalg.norm(unit_norm(np.array([3.0, 4.0]))), 1.0)


def test_attention_equals_cls_row_of_eager_attention_summed_over_heads(model):
    sequences = random_sequences(5, 30) + random_sequences(2, 22, seed=1)  # ragged lengths, padding
    scores = attention_scores(model, sequences, K, batch_size=4)
    eager = BertForSequenceClassification(copy.deepcopy(model.config)).eval()
    eager.load_state_dict(model.state_dict())
    eager.set_attn_implementation("eager")
    for i, seq in enumerate(sequences):
        ids = torch.from_numpy(kmer.encode(seq, K))[None]
        with torch.no_grad():
            weights = eager(input_ids=ids, output_attentions=True).attentions[-1][0]
        expected = unit_norm(spread_kmer_scores(weights[:, 0, 1:-1].sum(0).numpy(), K))
        assert scores[i].shape == (len(seq),)
        assert np.allclose(scores[i], expected, atol=1e-5)
    assert model.config._attn_implementation == "sdpa"  # restored


def test_heads_and_layers_are_selectable(model):
    sequences = random_sequences(3, 40)
    all_heads = attention_scores(model, sequences, K)
    one_head = attention_scores(model, sequences, K, heads=[1])
    first_layer = attention_scores(model, sequences, K, layer=0)
    assert not np.allclose(all_heads.values, one_head.values)
    assert not np.allclose(all_heads.values, first_layer.values)
    with pytest.raises(ValueError, match="layer 5 out of range"):
        attention_scores(model, sequences, K, layer=5)
    with pytest.raises(ValueError, match="heads"):
        attention_scores(model, sequences, K, heads=[7])


def test_long_sequences_are_scored_in_windows_over_every_base(model):
    long = random_sequences(1, 2 * kmer.MAX_KMERS + 40)[0]
    scores = attention_scores(model, [long, "ACGTACGTAC"], K)
    assert scores[0].shape == (len(long),) and np.all(np.isfinite(scores[0])) and scores[0].min() > 0
    with pytest.raises(InputError, match="shorter than k=3"):
        attention_scores(model, ["AC"], K)


def test_head_attention_holds_every_layer_and_head(model):
    sequences = random_sequences(3, 20, seed=4)
    rows = head_attention(model, sequences, K)
    assert [r.shape for r in rows] == [(18, 2, 4)] * 3
    for layer in (0, 1):
        for heads in ([1], [0, 3]):
            want = attention_scores(model, sequences, K, layer=layer, heads=heads)
            for i, r in enumerate(rows):
                np.testing.assert_allclose(unit_norm(spread_kmer_scores(r[:, layer, heads].sum(1), K)), want[i],
                                           rtol=1e-5, atol=1e-7)  # fmt: skip


def test_agreement_is_a_per_sequence_rank_correlation():
    a = BaseScores.from_list([np.array([1.0, 2, 3, 4]), np.array([1.0, 1, 1])])
    b = BaseScores.from_list([np.array([-1.0, 2, -3, 4]), np.array([0.5, 2, 3])])
    result = agreement(a, b)
    assert result[0] == pytest.approx(1.0) and np.isnan(result[1])


def test_scored_set_round_trips_without_pickle(tmp_path, model):
    sequences = random_sequences(6, 30)
    scores = attention_scores(model, sequences, K)
    scored = ScoredSet(sequences, np.array([1, 1, 1, 0, 0, 0]), np.linspace(0, 1, 6), scores,
                       [f"s{i}" for i in range(6)], ["chr1"] * 6, np.arange(6) * 100, ["+"] * 6,
                       ["test"] * 6)  # fmt: skip
    result = integrated_gradients(model, [sequences[2], sequences[0]], K, steps=4, hypothetical=True)
    scored.attribution, scored.attribution_rows = result.scores, np.array([2, 0])
    scored.hypothetical = np.concatenate(result.hypothetical)
    scored.layer, scored.heads = 1, (0, 2)
    scored.save(tmp_path / "scores.npz")
    back = ScoredSet.load(tmp_path / "scores.npz")
    assert list(back.attribution_rows) == [2, 0] and np.allclose(back.attribution[1], scored.attribution[1])
    assert np.allclose(back.hypothetical_of(1), result.hypothetical[1]) and (back.layer, back.heads) == (1, (0, 2))
    assert back.sequences == sequences and back.names == scored.names and back.chrom == ["chr1"] * 6
    assert np.allclose(back.attention.values, scores.values) and list(back.start) == list(scored.start)
    sub = back.subset(np.array([4, 0]))
    assert sub.sequences == [sequences[4], sequences[0]] and np.allclose(sub.attention[1], scores[0])
    plot_heatmap(back, tmp_path / "heatmap.png", top=3)
    plot_profile(back, tmp_path / "profile.png", attribution=integrated_gradients(model, sequences[:2], K, steps=4),
                 attribution_rows=np.array([0, 1]))  # fmt: skip
    assert (tmp_path / "heatmap.png").stat().st_size > 1000 and (tmp_path / "profile.png").stat().st_size > 1000
