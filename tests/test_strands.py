"""Both strands for strand-free tasks: augmentation in training, averaged scores everywhere after."""

from __future__ import annotations

import json

import numpy as np
from test_finetune import TINY, write_task

from dnabert.config.finetune import baseline_settings, task_settings
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune
from dnabert.lm.finetune.data import epoch_batches, load_data, steps_per_epoch
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


def test_sampled_strands_train_one_strand_of_each_sequence_per_epoch(tmp_path):
    data = write_task(tmp_path / "d", sizes=(40, 8, 8), length=30)
    both = load_data(data, 3, "split", both_strands=True, strand_training="double")
    sampled = load_data(data, 3, "split", both_strands=True)  # the default
    assert both.epoch_rows(1, 0) is None and both.rows_per_epoch == len(both.encoded["train"])
    assert sampled.rows_per_epoch == len(sampled.encoded["train"]) // 2
    n = sampled.splits["train"].labels.size
    epochs = [sampled.epoch_rows(1, epoch) for epoch in range(3)]
    for rows in epochs:
        sequences = sampled.encoded["train"].sequence_index[rows]
        assert rows.size == sampled.rows_per_epoch
        assert np.array_equal(np.sort(sequences % n), np.arange(n))  # each sequence once, on one strand
        assert 0 < (sequences >= n).sum() < n  # some forward, some reverse
    assert not np.array_equal(epochs[0], epochs[1])
    assert np.array_equal(epochs[0], sampled.epoch_rows(1, 0))  # a pure function of (seed, epoch)
    batches = epoch_batches(sampled.encoded["train"].lengths, 16, 1, 0, epochs[0])
    assert np.array_equal(np.sort(np.concatenate(batches)), epochs[0])
    assert len(batches) == steps_per_epoch(sampled.rows_per_epoch, 16)


def test_sampled_strands_halve_the_steps(tmp_path):
    data = write_task(tmp_path / "d", sizes=(64, 16, 16), length=30)
    section = {"init": "scratch", "scratch_model": TINY, "epochs": 2, "batch_size": 16, "both_strands": True,
               "patience": None}  # fmt: skip
    runs = {}
    for mode in ("double", "sample"):
        settings = FinetuneSettings.from_config({**section, "strand_training": mode})
        runs[mode] = finetune(settings, data, RunOutputs.under(tmp_path / mode), k=3, seed=1, device="cpu",
                              threads=1, progress=False)  # fmt: skip
    assert runs["sample"]["training"]["steps"] * 2 == runs["double"]["training"]["steps"]
