"""The interpretation stage's steps as the rules run them: scores -> motifs -> TOMTOM -> recovery."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from dnabert.lm import kmer
from dnabert.interpret.attention import BaseScores, ScoredSet
from dnabert.interpret.stage import (
    InterpretSettings,
    compare_task,
    discover_task,
    positive_and_negative,
    read_sequences,
    recovery,
    score_task,
)
from dnabert.io import InputError
from dnabert.lm.models import save_model
from dnabert.interpret.motifs.jaspar import jaspar_motifs
from dnabert.interpret.motifs.meme import read_meme
from dnabert.interpret.synthetic import synthetic_attention_data

K = 3


def write_split(path, rows):
    with gzip.open(path, "wt") as handle:
        handle.write("sequence\tlabel\tchrom\tstart\tend\tstrand\tname\tsource\n")
        for i, (seq, label) in enumerate(rows):
            handle.write(f"{seq}\t{label}\tchr1\t{1000 * i}\t{1000 * i + len(seq)}\t.\tr{i}\tpeak\n")
    return path


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("splits")
    rng = np.random.default_rng(0)
    files = {}
    for split, n in (("train", 30), ("dev", 10), ("test", 10)):
        rows = [("".join(rng.choice(list("ACGT"), 40)), i % 2) for i in range(n)]
        files[split] = write_split(folder / f"{split}.tsv.gz", rows)
    return files


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    config = BertConfig(vocab_size=kmer.vocab_size(K), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, architectures=["BertForSequenceClassification"])  # fmt: skip
    torch.manual_seed(0)
    return save_model(BertForSequenceClassification(config), tmp_path_factory.mktemp("model") / "model", K)


def test_read_sequences_samples_each_class_and_keeps_coordinates(splits):
    rows = read_sequences(splits, max_per_class=10, seed=3)
    assert rows["label"].value_counts().to_dict() == {0: 10, 1: 10}
    assert set(rows["split"]) <= {"train", "dev", "test"} and (rows["chrom"] == "chr1").all()
    assert rows.equals(read_sequences(splits, max_per_class=10, seed=3))  # seeded
    assert len(read_sequences({"dev": splits["dev"]}, max_per_class=100)) == 10


def test_read_sequences_names_the_bad_file(tmp_path):
    bad = tmp_path / "bad.tsv.gz"
    with gzip.open(bad, "wt") as handle:
        handle.write("seq\tlab\nACGT\t1\n")
    with pytest.raises(InputError, match="bad.tsv.gz.*missing column"):
        read_sequences({"train": bad}, 10)


def test_score_task_writes_scores_agreement_and_plots(splits, model_dir, tmp_path):
    settings = InterpretSettings.from_config({"attribution": {"sequences": 4, "steps": 4}, "batch_size": 8})
    out = {name: tmp_path / f"{name}" for name in ("scores.npz", "agreement.tsv", "heatmap.png", "profile.png")}
    scored = score_task(model_dir, splits, settings, scores_out=out["scores.npz"], agreement_out=out["agreement.tsv"],
                        heatmap_out=out["heatmap.png"], profile_out=out["profile.png"], task="toy",
                        threads=1)  # fmt: skip
    assert len(scored) == 50 and all(scored.attention[i].size == 40 for i in range(len(scored)))
    assert np.allclose([np.linalg.norm(scored.attention[i]) for i in range(len(scored))], 1.0, atol=1e-5)
    agreement = pd.read_csv(out["agreement.tsv"], sep="\t")
    assert len(agreement) == 4 and agreement["attention_peak"].between(0, 39).all()
    assert ScoredSet.load(out["scores.npz"]).names == scored.names
    assert out["heatmap.png"].stat().st_size > 1000 and out["profile.png"].stat().st_size > 1000


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A scored set whose positives carry CTCF (MA0139.2) under high attention, and its discovered motifs."""
    folder = tmp_path_factory.mktemp("planted")
    ctcf = next(m for m in jaspar_motifs("JASPAR2024") if m.id.startswith("MA0139"))
    pos, neg, scores, _ = synthetic_attention_data(ctcf.probs, 300, 300, seed=2)
    n_pos, n_neg = len(pos), len(neg)
    flat = [np.asarray(s, dtype=np.float64) for s in scores] + [np.full(len(s), 1.0 / np.sqrt(len(s))) for s in neg]
    scored = ScoredSet(pos + neg, np.array([1] * n_pos + [0] * n_neg), np.full(n_pos + n_neg, 0.5),
                       BaseScores.from_list(flat), [f"s{i}" for i in range(n_pos + n_neg)],
                       ["chr7"] * (n_pos + n_neg), np.arange(n_pos + n_neg) * 1000, ["."] * (n_pos + n_neg),
                       ["train"] * (n_pos + n_neg))  # fmt: skip
    scored.save(folder / "scores.npz")
    settings = InterpretSettings.from_config({})
    result = discover_task(folder / "scores.npz", settings, meme_out=folder / "motifs.meme",
                           summary_out=folder / "motifs.tsv", instances_out=folder / "instances.tsv",
                           bed_out=folder / "instances.bed", logos_out=folder / "logos")  # fmt: skip
    return folder, settings, result


def test_discovered_motifs_are_written_in_every_format(planted):
    folder, _, result = planted
    assert result.motifs, "no motif found in planted data"
    matrices = read_meme(folder / "motifs.meme")
    assert list(matrices) == [m.id for m in result.motifs]
    summary = pd.read_csv(folder / "motifs.tsv", sep="\t")
    assert summary["instances"].min() >= 3 and (summary["padj"] < 0.005).all()
    bed = pd.read_csv(folder / "instances.bed", sep="\t", header=None)
    assert (bed[0] == "chr7").all() and ((bed[2] - bed[1]) == 24).all()
    assert len(list((folder / "logos").glob("*.png"))) == len(result.motifs)


def test_tomtom_finds_the_planted_motif_and_recovery_says_so(planted):
    folder, settings, _ = planted
    table = compare_task(folder / "motifs.meme", settings, tomtom_out=folder / "tomtom.tsv",
                         figure_out=folder / "logos.png", task="toy", threads=1)  # fmt: skip
    best = table[table["rank"] == 1].iloc[0]
    assert best["target_id"].startswith("MA0139") and best["qvalue"] < 0.05
    assert (folder / "logos.png").stat().st_size > 5000
    found = recovery({"ctcf": ("CTCF", "MA0139.2"), "rest": ("REST", "MA0138.3")},
                     {"ctcf": folder / "tomtom.tsv", "rest": folder / "tomtom.tsv"}, 0.05,
                     folder / "recovery.tsv")  # fmt: skip
    assert found.set_index("task")["recovered"].to_dict() == {"ctcf": True, "rest": False}
    assert pd.read_csv(folder / "recovery.tsv", sep="\t")["recovered"].tolist() == [True, False]


def test_motifs_can_come_from_integrated_gradients(splits, model_dir, tmp_path):
    settings = InterpretSettings.from_config({"motif_scores": "attribution", "attribution": {"sequences": 3, "steps": 2}})
    out = {name: tmp_path / name for name in ("scores.npz", "agreement.tsv", "heatmap.png", "profile.png")}
    score_task(model_dir, {"dev": splits["dev"]}, settings, scores_out=out["scores.npz"],
               agreement_out=out["agreement.tsv"], heatmap_out=out["heatmap.png"], profile_out=out["profile.png"],
               threads=1)  # fmt: skip
    scored = ScoredSet.load(out["scores.npz"])
    positives = np.flatnonzero(scored.labels > 0)
    assert sorted(scored.attribution_rows) == list(positives)  # every positive, not only the top 3
    assert len(pd.read_csv(out["agreement.tsv"], sep="\t")) == 3
    pos, neg, values, rows = positive_and_negative(scored, "attribution")
    assert list(rows) == list(scored.attribution_rows) and all((v >= 0).all() for v in values)
    assert len(neg) == int((scored.labels == 0).sum())
    with pytest.raises(InputError, match="interpret.motif_scores"):
        InterpretSettings.from_config({"motif_scores": "saliency"})


def test_no_motif_still_gives_every_output(tmp_path):
    """Flat attention (an untrained model): no region passes, and every file is still written."""
    rng = np.random.default_rng(1)
    sequences = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(40)]
    flat = BaseScores.from_list([np.full(50, 1 / np.sqrt(50)) for _ in sequences])
    ScoredSet(sequences, np.array([1, 0] * 20), np.full(40, 0.5), flat, [f"s{i}" for i in range(40)]).save(
        tmp_path / "scores.npz")
    settings = InterpretSettings.from_config({})
    result = discover_task(tmp_path / "scores.npz", settings, meme_out=tmp_path / "motifs.meme",
                           summary_out=tmp_path / "motifs.tsv", instances_out=tmp_path / "instances.tsv",
                           bed_out=tmp_path / "instances.bed", logos_out=tmp_path / "logos")  # fmt: skip
    assert result.motifs == [] and read_meme(tmp_path / "motifs.meme") == {}
    assert (tmp_path / "instances.bed").read_text() == ""  # no coordinates (a table task): empty BED
    table = compare_task(tmp_path / "motifs.meme", settings, tomtom_out=tmp_path / "tomtom.tsv",
                         figure_out=tmp_path / "logos.png", summary=tmp_path / "motifs.tsv",
                         page_out=tmp_path / "motifs.html")  # fmt: skip
    assert table.empty and (tmp_path / "logos.png").is_file() and "<table" in (tmp_path / "motifs.html").read_text()
