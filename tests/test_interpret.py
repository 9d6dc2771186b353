"""The interpretation stage's steps as the rules run them: scores -> motifs -> TOMTOM -> recovery."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from dnabert.lm import kmer
from dnabert.interpret.recovery import recovery, side_by_side
from dnabert.interpret.scores import BaseScores, ScoredSet
from dnabert.interpret.scoring import attribution_rows, read_sequences, score_task
from dnabert.interpret.settings import InterpretSettings
from dnabert.interpret.stage import MotifOutputs, motifs_task, positive_and_negative
from dnabert.io import InputError
from dnabert.lm.models import save_model
from dnabert.interpret.motifs.jaspar import jaspar_motifs
from dnabert.interpret.motifs.meme import read_meme
from dnabert.interpret.synthetic import synthetic_attention_data, synthetic_contributions

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


SCORE_FILES = ("scores.npz", "selection.tsv", "agreement.tsv", "heatmap.png", "profile.png")


def score(model_dir, splits, settings, folder):
    out = {name: folder / name for name in SCORE_FILES}
    scored = score_task(model_dir, splits, settings, dev_file=splits["dev"], scores_out=out["scores.npz"],
                        selection_out=out["selection.tsv"], agreement_out=out["agreement.tsv"],
                        heatmap_out=out["heatmap.png"], profile_out=out["profile.png"], task="toy",
                        threads=1)  # fmt: skip
    return scored, out


def test_score_task_writes_scores_head_choice_agreement_and_plots(splits, model_dir, tmp_path):
    settings = InterpretSettings.from_config({"attribution": {"sequences": 4, "steps": 2}, "batch_size": 8})
    scored, out = score(model_dir, splits, settings, tmp_path)
    assert len(scored) == 50 and all(scored.attention[i].size == 40 for i in range(len(scored)))
    assert np.allclose([np.linalg.norm(scored.attention[i]) for i in range(len(scored))], 1.0, atol=1e-5)
    selection = pd.read_csv(out["selection.tsv"], sep="\t")
    chosen = selection[selection["selected"]].iloc[0]
    assert len(selection) == 1 * (2 + 1) and chosen["layer"] == 0  # one layer, two heads (+ their sum)
    back = ScoredSet.load(out["scores.npz"])
    assert back.names == scored.names and back.layer == 0 and back.heads == tuple(map(int, chosen["head"][4:].split(",")))
    rows = back.attribution_rows  # a seeded sample of 4 positives
    assert len(rows) == 4 and (scored.labels[rows] > 0).all() and back.hypothetical.shape == (4 * 40, 4)
    assert list(rows) == list(attribution_rows(scored.labels, 4, settings.seed))
    agreement = pd.read_csv(out["agreement.tsv"], sep="\t")
    assert len(agreement) == 4 and agreement["attention_peak"].between(0, 39).all()
    assert out["heatmap.png"].stat().st_size > 1000 and out["profile.png"].stat().st_size > 1000


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A scored set whose positives carry CTCF (MA0139.2) under high attention and high contributions."""
    folder = tmp_path_factory.mktemp("planted")
    ctcf = next(m for m in jaspar_motifs("JASPAR2024") if m.id.startswith("MA0139"))
    pos, neg, scores, _ = synthetic_attention_data(ctcf.probs, 300, 300, seed=2)
    contrib_seqs, hyp, _ = synthetic_contributions(ctcf.probs, 150, seed=4)
    pos[:150] = contrib_seqs  # the first 150 positives carry contributions on their sites (attention elsewhere)
    n_pos, n_neg = len(pos), len(neg)
    flat = [np.asarray(s, dtype=np.float64) for s in scores] + [np.full(len(s), 1.0 / np.sqrt(len(s))) for s in neg]
    scored = ScoredSet(pos + neg, np.array([1] * n_pos + [0] * n_neg), np.full(n_pos + n_neg, 0.5),
                       BaseScores.from_list(flat), [f"s{i}" for i in range(n_pos + n_neg)],
                       ["chr7"] * (n_pos + n_neg), np.arange(n_pos + n_neg) * 1000, ["."] * (n_pos + n_neg),
                       ["train"] * (n_pos + n_neg), layer=1, heads=(0, 2))  # fmt: skip
    scored.attribution = BaseScores.from_list([h[np.arange(101), ["ACGT".index(c) for c in seq]]
                                               for h, seq in zip(hyp, contrib_seqs)])  # fmt: skip
    scored.attribution_rows = np.arange(150)
    scored.hypothetical = hyp.reshape(-1, 4)
    scored.save(folder / "scores.npz")
    settings = InterpretSettings.from_config({})
    tables = {}
    for engine in ("attention", "modisco"):
        outputs = MotifOutputs.under(folder / engine)
        tables[engine] = motifs_task(engine, folder / "scores.npz", settings, outputs, title=f"toy {engine}",
                                     threads=1)  # fmt: skip
    return folder, settings, tables


@pytest.mark.parametrize("engine", ["attention", "modisco"])
def test_each_engine_writes_every_format_and_finds_the_planted_motif(planted, engine):
    folder, _, tables = planted
    base = folder / engine
    matrices = read_meme(base / "motifs.meme")
    summary = pd.read_csv(base / "motifs.tsv", sep="\t")
    assert matrices and list(matrices) == summary["motif"].tolist()
    bed = pd.read_csv(base / "instances.bed", sep="\t", header=None)
    assert (bed[0] == "chr7").all() and len(bed) == len(pd.read_csv(base / "instances.tsv", sep="\t"))
    assert len(list((base / "logos").glob("*.png"))) == len(matrices)
    best = tables[engine][tables[engine]["rank"] == 1].iloc[0]
    assert best["target_name"].upper() == "CTCF" and best["qvalue"] < 0.05
    assert (base / "logos.png").stat().st_size > 5000 and "<table" in (base / "motifs.html").read_text()
    if engine == "attention":
        assert summary["instances"].min() >= 3 and (summary["padj"] < 0.005).all() and ((bed[2] - bed[1]) == 24).all()
    else:
        assert summary["metacluster"].iloc[0] == "pos" and "TF-MoDISco" in (base / "motifs.html").read_text()


def test_recovery_has_a_row_per_motif_seed_and_engine(planted):
    folder, settings, _ = planted
    runs = {("ctcf", seed, engine): folder / engine / "tomtom.tsv" for seed in (1, 2) for engine in ("attention", "modisco")}
    runs[("rest", 1, "modisco")] = folder / "modisco" / "tomtom.tsv"
    found = recovery({"ctcf": ("CTCF", "MA0139.2"), "rest": ("REST", "MA0138.3")}, runs, settings.qvalue,
                     folder / "recovery.tsv", page_out=folder / "recovery.html")  # fmt: skip
    table = pd.read_csv(folder / "recovery.tsv", sep="\t")
    assert list(table.columns) == ["task", "seed", "engine", "name", "jaspar_id", "recovered", "best_qvalue",
                                   "best_pvalue", "motif", "matched_id", "rank", "motifs"]  # fmt: skip
    assert len(table) == 5 and table[table["task"] == "ctcf"]["recovered"].all()
    assert not table[table["task"] == "rest"]["recovered"].any()
    assert (table[table["task"] == "ctcf"]["best_qvalue"] < 0.05).all() and (table["motifs"] > 0).all()
    wide = side_by_side(found)
    assert len(wide) == 3 and {"attention recovered", "modisco recovered", "modisco best_qvalue"} <= set(wide.columns)
    page = (folder / "recovery.html").read_text()
    assert "attention 2 of 2" in page and "modisco 2 of 3" in page


def test_positives_and_negatives_for_the_attention_engine(planted):
    folder, _, _ = planted
    scored = ScoredSet.load(folder / "scores.npz")
    pos, neg, values, rows = positive_and_negative(scored)
    assert len(pos) == 300 and len(neg) == 300 and list(rows) == list(range(300)) and len(values) == 300


@pytest.mark.parametrize("located", [False, True], ids=["table task", "genomic"])
@pytest.mark.parametrize("engine", ["attention", "modisco"])
def test_no_motif_still_gives_every_output(tmp_path, engine, located):
    """Flat attention and noise contributions (an untrained model): nothing passes, and every file is still written
    (an empty BED, also where the sequences carry genomic coordinates)."""
    rng = np.random.default_rng(1)
    sequences = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(40)]
    flat = BaseScores.from_list([np.full(50, 1 / np.sqrt(50)) for _ in sequences])
    where = {"chrom": ["chr1"] * 40, "start": np.arange(40, dtype=np.int64) * 100, "strand": ["+", "-"] * 20,
             "split": ["test"] * 40} if located else {}  # fmt: skip
    scored = ScoredSet(sequences, np.array([1, 0] * 20), np.full(40, 0.5), flat, [f"s{i}" for i in range(40)],
                       **where)  # fmt: skip
    scored.attribution_rows = np.arange(0, 40, 2)
    scored.attribution = BaseScores.from_list([np.zeros(50)] * 20)
    scored.hypothetical = rng.normal(0, 1e-3, size=(20 * 50, 4)).astype(np.float32)
    scored.save(tmp_path / "scores.npz")
    outputs = MotifOutputs.under(tmp_path / engine)
    table = motifs_task(engine, tmp_path / "scores.npz", InterpretSettings.from_config({}), outputs, threads=1)
    assert read_meme(outputs.meme) == {} and table.empty
    assert Path(outputs.bed).read_text() == ""  # no motif, or no coordinates (a table task): empty BED
    assert Path(outputs.matches).is_file() and "<table" in Path(outputs.page).read_text()
