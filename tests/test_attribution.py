"""Integrated gradients (captum) of a k-mer BERT, spread over bases, and their hypothetical contributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from conftest import tiny_classifier
from dnabert.interpret.attribution import (
    Attributions,
    baseline_sequences,
    integrated_gradients,
    log_odds,
    substitution_ids,
)
from dnabert.interpret.scores import spread_kmer_scores
from dnabert.lm import kmer

K = 3
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model() -> BertForSequenceClassification:
    return tiny_classifier(K)


def random_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def score(model, sequences: list[str]) -> np.ndarray:
    ids = torch.from_numpy(np.stack([kmer.encode(s, K) for s in sequences]).astype(np.int64))
    with torch.no_grad():
        return log_odds(model(input_ids=ids).logits, 1, [0]).numpy()


def kmer_total(per_base: np.ndarray, length: int) -> float:
    """Undo the spreading (average by coverage) to recover the sum over k-mers."""
    coverage = np.convolve(np.ones(length - K + 1), np.ones(K))
    return float((per_base * coverage).sum() / K)


def test_integrated_gradients_are_complete_from_the_pad_baseline(model):
    # Completeness: attributions sum to f(input) - f(baseline), f the log-odds, up to the Riemann error.
    seq = random_sequences(1, 25, seed=3)[0]
    attribution = integrated_gradients(model, [seq], K, steps=64, baseline="pad")
    ids = torch.from_numpy(kmer.encode(seq, K).astype(np.int64))[None]
    baseline = ids.clone()
    baseline[0, 1:-1] = kmer.PAD_ID
    with torch.no_grad():
        gap = (log_odds(model(input_ids=ids).logits, 1, [0]) - log_odds(model(input_ids=baseline).logits, 1, [0])).item()
    assert kmer_total(attribution[0], len(seq)) == pytest.approx(gap, rel=0.02, abs=1e-3)


def test_integrated_gradients_from_shuffles_are_complete_on_average(model):
    seq = random_sequences(1, 30, seed=4)[0]
    shuffles = [rows[0] for rows in baseline_sequences([seq], 3, seed=7)]
    assert all(sorted(s) == sorted(seq) and s != seq for s in shuffles)  # same letters (dinucleotides), reordered
    attribution = integrated_gradients(model, [seq], K, steps=32, baseline="shuffle", baselines=3, seed=7)
    gap = score(model, [seq])[0] - score(model, shuffles).mean()
    assert kmer_total(attribution[0], len(seq)) == pytest.approx(gap, rel=0.02, abs=1e-3)


def test_captum_equals_the_hand_written_midpoint_rule(model):
    """The former hand-written IG (midpoint Riemann sum on the embeddings), on the log-odds: the same numbers."""
    seq = random_sequences(1, 20, seed=5)[0]
    steps = 8
    ids = torch.from_numpy(kmer.encode(seq, K).astype(np.int64))[None]
    embeddings = model.get_input_embeddings()
    with torch.no_grad():
        inputs = embeddings(ids)
        base_ids = ids.clone()
        base_ids[0, 1:-1] = kmer.PAD_ID
        baseline = embeddings(base_ids)
    total = torch.zeros_like(inputs)
    for alpha in (torch.arange(steps) + 0.5) / steps:
        path = (baseline + alpha * (inputs - baseline)).requires_grad_(True)
        value = log_odds(model(inputs_embeds=path).logits, 1, [0]).sum()
        (grad,) = torch.autograd.grad(value, path)
        total += grad
    reference = ((total / steps) * (inputs - baseline)).sum(-1)[0, 1:-1].numpy()
    got = integrated_gradients(model, [seq], K, steps=steps, baseline="pad")
    np.testing.assert_allclose(got[0], spread_kmer_scores(reference, K), rtol=1e-4, atol=1e-6)


def test_substitution_ids_are_the_mutated_kmers():
    seq = "ACGTTGCA"
    ids = torch.from_numpy(kmer.encode(seq, K).astype(np.int64))
    subs = substitution_ids(ids, K)  # (tokens, K, 4), bases in DNABERT's order A T C G
    for j in range(len(seq) - K + 1):
        for t in range(K):
            for b, base in enumerate(kmer.BASES):
                mutated = seq[: j + t] + base + seq[j + t + 1 :]
                assert subs[j + 1, t, b] == kmer.kmer_ids(mutated, K)[j]
    assert (subs[0] == kmer.UNK_ID).all() and (subs[-1] == kmer.UNK_ID).all()  # [CLS], [SEP]


def test_hypothetical_contributions_hold_the_integrated_gradients_at_the_observed_base(model):
    sequences = random_sequences(3, 30, seed=6)
    result = integrated_gradients(model, sequences, K, steps=4, baseline="shuffle", baselines=2, hypothetical=True)
    assert isinstance(result, Attributions) and len(result.hypothetical) == 3
    for i, seq in enumerate(sequences):
        hyp = result.hypothetical[i]
        assert hyp.shape == (30, 4)
        observed = hyp[np.arange(30), ["ACGT".index(c) for c in seq]]
        np.testing.assert_allclose(observed, result.scores[i], rtol=1e-4, atol=1e-6)
        assert np.ptp(hyp, axis=1).max() > 0  # the other bases get their own values


def test_hypothetical_contributions_are_the_linearised_substitution_effect():
    """A model linear in its embeddings: hyp[i, b] - hyp[i, x_i] is exactly f(x with b at i) - f(x), spread."""
    torch.manual_seed(1)
    vocab, dim = kmer.vocab_size(K), 8
    embedding = torch.nn.Embedding(vocab, dim)
    weight = torch.randn(dim)

    class Linear(torch.nn.Module):  # logit_1 = sum over tokens of w . E[token], logit_0 = 0
        config = BertConfig(num_labels=2)

        def __init__(self):
            super().__init__()
            self.embedding = embedding

        def get_input_embeddings(self):
            return self.embedding

        def forward(self, input_ids, attention_mask=None):
            value = (self.embedding(input_ids) @ weight * attention_mask).sum(1)
            return type("Out", (), {"logits": torch.stack([torch.zeros_like(value), value], 1)})

    model = Linear()
    seq = random_sequences(1, 12, seed=8)[0]
    result = integrated_gradients(model, [seq], K, steps=2, baseline="pad", hypothetical=True)
    hyp = result.hypothetical[0]
    x = ["ACGT".index(c) for c in seq]
    coverage = np.convolve(np.ones(len(seq) - K + 1), np.ones(K))
    for i in (0, 5, 11):
        for b in range(4):
            mutated = seq[:i] + "ACGT"[b] + seq[i + 1 :]
            ids = [torch.from_numpy(kmer.encode(s, K).astype(np.int64))[None] for s in (seq, mutated)]
            with torch.no_grad():
                effect = float(model(ids[1], torch.ones_like(ids[1])).logits[0, 1]
                               - model(ids[0], torch.ones_like(ids[0])).logits[0, 1])  # fmt: skip
            assert (hyp[i, b] - hyp[i, x[i]]) * coverage[i] == pytest.approx(effect, rel=1e-4, abs=1e-5)


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, ["ACGTACGT"], K, steps=0)
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(model, ["ACGTACGT"], K, baseline="zeros")
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(model, ["ACGTACGT"], K, target=2)
