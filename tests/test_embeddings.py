"""Embeddings: shapes of every pooling, the padding mask, windows of long sequences, layers, files, plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dnabert.interpret.attention import spread_kmer_scores
from dnabert.io import InputError
from dnabert.lm.embeddings import (
    POOLINGS,
    embed_file,
    embed_sequences,
    plot_projection,
    read_embeddings,
    spread_kmer_vectors,
)
from dnabert.lm.inference import load_any

HIDDEN = 32


def _random_sequence(length: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


@pytest.fixture(scope="module")
def models(tiny_bert):
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    return {"mlm": load_any(tiny_bert["release"], cpu)[0], "classifier": load_any(tiny_bert["classifier"], cpu)[0]}


def _vectors(emb, i: int) -> np.ndarray:
    return emb.values[i] if emb.offsets is None else emb.values[emb.offsets[i] : emb.offsets[i + 1]]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_shapes(models, pooling):
    sequences = [_random_sequence(n, n) for n in (40, 101, 7)]
    emb = embed_sequences(models["mlm"], sequences, 3, pooling=pooling)
    if pooling == "nucleotide":
        assert emb.values.shape == (40 + 101 + 7, HIDDEN) and emb.offsets.tolist() == [0, 40, 141, 148]
    else:
        assert emb.values.shape == (3, HIDDEN) and emb.offsets is None
    assert emb.values.dtype == np.float32 and np.isfinite(emb.values).all()
    assert emb.sequence_vectors().shape == (3, HIDDEN)
    assert emb.lengths.tolist() == [40, 101, 7] and emb.windows.tolist() == [1, 1, 1]


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("which", ["mlm", "classifier"])
def test_padding_is_masked(models, pooling, which):
    """The same sequence alone or beside longer ones (so padded in its batch) gives the same vectors to 1e-5."""
    model = models[which]
    short = _random_sequence(30, 1)
    alone = embed_sequences(model, [short], 3, pooling=pooling, batch_size=1)
    padded = embed_sequences(model, [_random_sequence(300, 2), short, _random_sequence(200, 3)], 3, pooling=pooling,
                             batch_size=8)  # fmt: skip
    np.testing.assert_allclose(_vectors(padded, 1), _vectors(alone, 0), atol=1e-5, rtol=0)
    # and the mask matters: without it the padded batch would differ (the check above is not vacuous)
    from dnabert.lm.inference import encode

    encoded = encode([_random_sequence(300, 2), short], 3)
    ids, mask = encoded.batch(np.array([0, 1]))
    with torch.no_grad():
        unmasked = model.bert(input_ids=ids, attention_mask=torch.ones_like(mask)).last_hidden_state[1, 1:29]
    assert np.abs(unmasked.mean(0).numpy() - embed_sequences(model, [short], 3, pooling="mean").values[0]).max() > 1e-3


def test_mean_pooling_excludes_special_tokens_and_follows_the_layer(models):
    model = models["mlm"]
    seq = _random_sequence(50, 4)
    from dnabert.lm.inference import encode

    ids, mask = encode([seq], 3).batch(np.array([0]))
    with torch.no_grad():
        states = model.bert(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    for layer in (0, 1, -1):
        mean = embed_sequences(model, [seq], 3, pooling="mean", layer=layer).values[0]
        np.testing.assert_allclose(mean, states[layer][0, 1:49].mean(0).numpy(), atol=1e-5)
        cls = embed_sequences(model, [seq], 3, pooling="cls", layer=layer).values[0]
        np.testing.assert_allclose(cls, states[layer][0, 0].numpy(), atol=1e-5)
    assert not np.allclose(embed_sequences(model, [seq], 3, layer=0).values, embed_sequences(model, [seq], 3).values)
    with pytest.raises(InputError, match="layer"):
        embed_sequences(model, [seq], 3, layer=2)
    with pytest.raises(InputError, match="pooling"):
        embed_sequences(model, [seq], 3, pooling="max")


def test_long_sequences_are_embedded_by_windows(models):
    model = models["mlm"]
    long = _random_sequence(1300, 5)  # 1298 3-mers: windows of 510, 510, 278
    emb = {p: embed_sequences(model, [long], 3, pooling=p) for p in POOLINGS}
    assert emb["mean"].windows.tolist() == [3]
    pieces = [long[0:512], long[510:1022], long[1020:1300]]  # each window's bases
    parts = [embed_sequences(model, [p], 3, pooling="nucleotide") for p in pieces]
    kmers = np.array([510, 510, 278])
    means = np.stack([embed_sequences(model, [p], 3, pooling="mean").values[0] for p in pieces])
    np.testing.assert_allclose(emb["mean"].values[0], (means * kmers[:, None]).sum(0) / kmers.sum(), atol=1e-5)
    cls = np.stack([embed_sequences(model, [p], 3, pooling="cls").values[0] for p in pieces])
    np.testing.assert_allclose(emb["cls"].values[0], (cls * kmers[:, None]).sum(0) / kmers.sum(), atol=1e-5)
    assert emb["nucleotide"].values.shape == (1300, HIDDEN)
    np.testing.assert_allclose(emb["nucleotide"].values[:400], parts[0].values[:400], atol=1e-5)  # away from the joins
    assert sum(p.values.shape[0] for p in parts) == 1300 + 2 * 2  # windows overlap by k - 1 bases


def test_per_nucleotide_spreading_matches_attention_spreading():
    vectors = np.random.default_rng(0).normal(size=(9, 4))
    spread = spread_kmer_vectors(vectors, 6)
    assert spread.shape == (14, 4)
    for column in range(4):
        np.testing.assert_allclose(spread[:, column], spread_kmer_scores(vectors[:, column], 6), atol=1e-6)


def test_files_and_projection(tiny_bert, tmp_path):
    dataset = tmp_path / "test.tsv"
    rows = [(_random_sequence(60 + i, 10 + i), i % 2, f"s{i}") for i in range(12)]
    dataset.write_text("sequence\tlabel\tname\n" + "".join(f"{s}\t{label}\t{n}\n" for s, label, n in rows))
    emb = embed_file(tiny_bert["classifier"], tmp_path / "e.npy", tmp_path / "index.tsv", dataset=dataset,
                     pooling="nucleotide", device="cpu", projection_out=tmp_path / "pca.png")  # fmt: skip
    vectors, index = read_embeddings(tmp_path / "e.npy", tmp_path / "index.tsv")
    assert vectors.shape == (sum(len(s) for s, _, _ in rows), HIDDEN)
    assert index.columns.tolist() == ["index", "id", "length", "windows", "label", "row_start", "row_end"]
    assert index["id"].tolist() == [n for _, _, n in rows] and index["label"].tolist() == [r[1] for r in rows]
    assert (index["row_end"] - index["row_start"]).tolist() == index["length"].tolist()
    np.testing.assert_array_equal(vectors, emb.values)
    assert (tmp_path / "pca.png").read_bytes()[:4] == b"\x89PNG"
    ratio = plot_projection(emb.sequence_vectors(), index["label"], tmp_path / "again.png")
    assert 0 < ratio[1] <= ratio[0] < 1
    assert not list(tmp_path.glob(".*.tmp"))
    assert isinstance(pd.read_csv(tmp_path / "index.tsv", sep="\t"), pd.DataFrame)
