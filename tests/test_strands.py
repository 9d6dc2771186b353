"""Both strands for strand-free tasks: augmentation in training, averaged scores everywhere after."""

from __future__ import annotations

import json

import numpy as np
from test_finetune import TINY, write_task

from dnabert.config.finetune import baseline_settings, task_settings
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune
from dnabert.lm.finetune.data import load_data
from dnabert.lm.inference import both_strands, load_classifier, predict_sequences
from dnabert.sequence import reverse_complement

CONFIG = {"tasks": {"ctcf": {"type": "peaks"}, "prom": {"type": "promoters"}},
          "finetune": {"tasks": {"prom": {"both_strands": True}}},
          "baselines": {"cnn": {"both_strands": "auto"}, "kmer_lr": {"canonical": False}}}  # fmt: skip


def test_auto_means_peaks_tasks_for_models_and_baselines():
    assert task_settings(CONFIG, "ctcf")["both_strands"] is True
    assert task_settings(CONFIG, "prom")["both_strands"] is True  # set explicitly
    assert task_settings({"tasks": {"s": {"type": "splice"}}}, "s")["both_strands"] is False
    ctcf = baseline_settings(CONFIG, "ctcf")
    assert ctcf["cnn"]["both_strands"] is True and ctcf["kmer_lr"]["canonical"] is False
    assert baseline_settings({"tasks": {"s": {"type": "splice"}}}, "s")["cnn"]["both_strands"] is False


def test_training_rows_gain_their_reverse_complements(tmp_path):
    data = write_task(tmp_path / "d", sizes=(20, 8, 8), length=30)
    plain, both = load_data(data, 3, "split"), load_data(data, 3, "split", both_strands=True)
    assert len(both.encoded["train"]) == 2 * len(plain.encoded["train"])
    assert np.array_equal(both.train_labels, np.concatenate([plain.train_labels] * 2))
    assert both.reverse is not None and plain.reverse is None


def test_a_both_strands_model_scores_a_sequence_and_its_reverse_complement_alike(tmp_path):
    data = write_task(tmp_path / "d", sizes=(48, 16, 16), length=30)
    settings = FinetuneSettings.from_config({"init": "scratch", "scratch_model": TINY, "epochs": 1, "batch_size": 16,
                                             "both_strands": True, "patience": None})  # fmt: skip
    out = RunOutputs.under(tmp_path / "run")
    finetune(settings, data, out, k=3, seed=1, device="cpu", threads=1, progress=False)
    assert json.loads((out.model / "config.json").read_text())["both_strands"] is True
    model, k = load_classifier(out.model, "cpu")
    assert both_strands(model)
    seqs = ["ACGTTGCAAGGCTTACGATCGATCGGATCC", "TTTTACGATCGACGGCATGCATGCAAAACC"]
    forward, _ = predict_sequences(model, seqs, k)
    reverse, _ = predict_sequences(model, [reverse_complement(s) for s in seqs], k)
    assert np.allclose(forward, reverse, atol=1e-6)
