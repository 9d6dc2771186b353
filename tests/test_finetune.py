"""Fine-tuning, baselines and prediction on tiny synthetic tasks with a tiny BERT (CPU, seconds)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch

from dnabert.lm import kmer
from dnabert.lm.baselines import BaselineSettings, CNNSettings, DeepBindCNN, _canonical_map, kmer_counts, run_baseline
from dnabert.lm.evaluation import read_split, read_task
from dnabert.lm.finetune import (
    FinetuneSettings,
    RunOutputs,
    build_classifier,
    epoch_batches,
    finetune,
    steps_per_epoch,
)
from dnabert.lm.inference import Encoded, combine_windows, encode
from dnabert.io import InputError
from dnabert.lm.models import ModelSettings, new_model, save_model
from dnabert.lm.training import cpu_vendor
from dnabert.lm.predict import predict_file
from dnabert.sequence import reverse_complement

K = 3
TINY = {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32}
MOTIF = "GGGATTACAGGG"
HEADER = "sequence\tlabel\tchrom\tstart\tend\tstrand\tname\tsource\n"


def _sequences(rng: np.random.Generator, n: int, length: int, classes: int = 2) -> list[tuple[str, int]]:
    """Random sequences; class c > 0 carries a planted motif variant."""
    rows = []
    for i in range(n):
        label = i % classes
        seq = list(rng.choice(list("ACGT"), length))
        if label:
            motif = MOTIF if label == 1 else reverse_complement(MOTIF)[::-1]
            at = int(rng.integers(0, length - len(motif)))
            seq[at : at + len(motif)] = list(motif)
        rows.append(("".join(seq), label))
    return rows


def write_task(folder: Path, sizes=(160, 48, 48), length=40, classes=2, seed=0, long_every: int = 0) -> dict[str, Path]:
    """train/dev/test.tsv.gz of a synthetic task; every ``long_every``-th sequence is made 600 bp long."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, n in zip(("train", "dev", "test"), sizes):
        rows = _sequences(rng, n, length, classes)
        if long_every:
            rows = [(s + "".join(rng.choice(list("ACGT"), 560)) if i % long_every == 0 else s, y)
                    for i, (s, y) in enumerate(rows)]  # fmt: skip
        paths[split] = folder / f"{split}.tsv.gz"
        with gzip.open(paths[split], "wt") as handle:
            handle.write(HEADER)
            for i, (seq, label) in enumerate(rows):
                handle.write(f"{seq}\t{label}\t\t\t\t\t{split}_{i}\tsynthetic\n")
    return paths


def tiny_settings(**overrides) -> FinetuneSettings:
    values = {"init": "scratch", "scratch_model": TINY, "lr": 2e-3, "epochs": 2, "batch_size": 16,
              "eval_every_steps": 5, "patience": None}  # fmt: skip
    values.update(overrides)
    return FinetuneSettings.from_config(values)


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict[str, Path]:
    return write_task(tmp_path_factory.mktemp("task"))


@pytest.fixture(scope="module")
def first_run(task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run_a")
    finetune(tiny_settings(), task, RunOutputs.under(out), k=K, seed=7, device="cpu", threads=1, progress=False)
    return out


# --------------------------------------------------------------------------- data


def test_read_split_names_file_line_and_field(tmp_path):
    path = tmp_path / "train.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "ACGT\t1\tchr1\t10\t14\t-\t\tpeaks\nACGT\tx\t\t\t\t\t\tpeaks\n")
    with pytest.raises(InputError, match=r"train.tsv.gz:3: field 'label': label must be an integer"):
        read_split(path)
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "acgt\t1\tchr1\t10\t14\t-\t\tpeaks\nACGT\t0\t\t\t\t\t\tshuffle\n")
    split = read_split(path)
    assert split.sequences == ["ACGT", "ACGT"] and split.ids == ["chr1:10-14(-)", "row1"]


def test_a_class_missing_from_train_is_an_error(tmp_path):
    paths = write_task(tmp_path, sizes=(10, 6, 6), classes=2)
    with gzip.open(paths["dev"], "at") as handle:
        handle.write("ACGTACGT\t2\t\t\t\t\tx\tsynthetic\n")
    with pytest.raises(InputError, match=r"classes \[2\] never occur in train"):
        read_task(paths)


def test_encoded_rows_match_the_tokenizer_and_split_long_sequences():
    seqs = ["ACGTACGTAC", "A" * 700, "GGGCC"]
    encoded = encode(seqs, K, "split")
    assert encoded.sequence_index.tolist() == [0, 1, 1, 2]
    reference = kmer.encode_batch(seqs, K, overflow="split")
    ids, mask = encoded.batch(np.arange(len(encoded)))
    assert ids.shape[1] % 8 == 0
    width = reference.input_ids.shape[1]
    assert np.array_equal(ids.numpy()[:, :width], reference.input_ids)
    assert np.array_equal(mask.numpy()[:, :width], reference.attention_mask)
    truncated = encode(seqs, K, "truncate")
    assert len(truncated) == 3 and truncated.lengths[1] == kmer.MAX_TOKENS


def test_epoch_batches_cover_every_row_once_and_are_seeded():
    lengths = np.random.default_rng(1).integers(5, 300, 1234)
    batches = epoch_batches(lengths, 16, seed=3, epoch=0)
    assert len(batches) == steps_per_epoch(1234, 16)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1234))
    assert all(np.array_equal(a, b) for a, b in zip(batches, epoch_batches(lengths, 16, seed=3, epoch=0)))
    assert not np.array_equal(np.concatenate(batches), np.concatenate(epoch_batches(lengths, 16, seed=3, epoch=1)))
    # Length bucketing: rows of a batch have similar lengths (much less spread than random batches).
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.2 * np.ptp(lengths)


def test_window_probabilities_are_combined_per_sequence():
    encoded = Encoded(np.zeros(0, np.int32), np.array([0, 512, 612, 712]), np.array([0, 0, 1]), 2)
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.4, 0.6]])
    mean = combine_windows(probs, encoded, "mean")  # weights 510 and 98 k-mers
    assert mean[0] == pytest.approx((510 * probs[0] + 98 * probs[1]) / 608)
    assert mean[1] == pytest.approx(probs[2])
    top = combine_windows(probs, encoded, "max")
    assert top[0] == pytest.approx(np.array([0.9, 0.7]) / 1.6)


# --------------------------------------------------------------------------- fine-tuning


def test_finetune_writes_every_output(first_run):
    metrics = json.loads((first_run / "metrics.json").read_text())
    for key in ("accuracy", "f1", "mcc", "auroc", "auprc", "precision", "recall", "confusion_matrix", "loss"):
        assert key in metrics["test"], key
    assert metrics["n_classes"] == 2 and metrics["training"]["steps"] == 20 and metrics["init"] == "scratch"
    # what the config does not fix about the bits: the machine's kernels (README tables are kept per platform)
    assert metrics["training"]["kernels"] == f"cpu {cpu_vendor()} {torch.backends.cpu.get_cpu_capability()}"
    assert metrics["best"]["step"] in (5, 10, 15, 20) and "loss" in metrics["best"]["dev"]
    with open(first_run / "predictions.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == 48 and rows[0]["id"] == "test_0"
    assert list(rows[0]) == ["id", "row", "label", "predicted", "prob_0", "prob_1"]
    assert all(abs(float(r["prob_0"]) + float(r["prob_1"]) - 1) < 1e-5 for r in rows)
    history = (first_run / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,epoch,lr,train_loss,dev_loss") and len(history) == 1 + 4
    assert (first_run / "model" / "config.json").is_file() and (first_run / "model" / "tokenizer.json").is_file()


def test_same_seed_gives_the_same_metrics_on_cpu(task, first_run, tmp_path, monkeypatch):
    import dnabert.lm.finetune.data as module

    monkeypatch.setattr(module, "PREFETCH", 0)  # batches built in the step instead of ahead: the same run
    finetune(tiny_settings(), task, RunOutputs.under(tmp_path), k=K, seed=7, device="cpu", threads=1, progress=False)
    first = json.loads((first_run / "metrics.json").read_text())
    second = json.loads((tmp_path / "metrics.json").read_text())
    assert first["test"] == second["test"] and first["best"] == second["best"]
    assert (first_run / "predictions.tsv").read_text() == (tmp_path / "predictions.tsv").read_text()


def test_another_seed_gives_another_model(task, first_run, tmp_path):
    finetune(tiny_settings(), task, RunOutputs.under(tmp_path), k=K, seed=8, device="cpu", threads=1, progress=False)
    assert (first_run / "predictions.tsv").read_text() != (tmp_path / "predictions.tsv").read_text()


def test_learns_a_planted_motif_and_stops_early(task, tmp_path):
    settings = tiny_settings(epochs=40, patience=3, eval_every_steps=10, select_on="auroc")
    result = finetune(settings, task, RunOutputs.under(tmp_path), k=K, seed=1, device="cpu", threads=1, progress=False)
    assert result["test"]["auroc"] > 0.85
    assert result["training"]["stopped_early"] and result["training"]["steps"] < result["training"]["planned_steps"]
    assert result["best"]["step"] == result["training"]["steps"] - 30  # three evaluations after the best


def test_pretrained_encoder_is_loaded_and_head_is_seeded(tmp_path):
    mlm = new_model(K, ModelSettings(**TINY), seed=5)
    save_model(mlm, tmp_path / "pretrained", K)
    settings = tiny_settings(init="pretrained")
    a = build_classifier(settings, K, 3, seed=1, model_dir=tmp_path / "pretrained")
    b = build_classifier(settings, K, 3, seed=1, model_dir=tmp_path / "pretrained")
    c = build_classifier(settings, K, 3, seed=2, model_dir=tmp_path / "pretrained")
    assert torch.equal(a.bert.embeddings.word_embeddings.weight, mlm.bert.embeddings.word_embeddings.weight)
    assert torch.equal(a.bert.encoder.layer[0].output.dense.weight, mlm.bert.encoder.layer[0].output.dense.weight)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert a.config.num_labels == 3 and a.config.hidden_dropout_prob == 0.1
    with pytest.raises(InputError, match="model is for 3-mers but kmer is 4"):
        build_classifier(settings, 4, 2, seed=1, model_dir=tmp_path / "pretrained")


def test_released_dnabert_directory_fine_tunes(tmp_path):
    """A DNABERT-release-like directory: extra config keys, vocab.txt, pickled state dict with a pooler."""
    mlm = new_model(K, ModelSettings(**TINY), seed=5)
    release = tmp_path / "release"
    release.mkdir()
    config = mlm.config.to_dict() | {"split": 10, "rnn": "lstm", "num_rnn_layer": 2, "rnn_hidden": 768,
                                      "rnn_dropout": 0.0}  # fmt: skip
    (release / "config.json").write_text(json.dumps(config))
    kmer.write_vocab(release / "vocab.txt", K)
    state = dict(mlm.state_dict())
    state["bert.pooler.dense.weight"] = torch.zeros(16, 16)
    state["bert.pooler.dense.bias"] = torch.zeros(16)
    torch.save(state, release / "pytorch_model.bin")
    paths = write_task(tmp_path / "data", sizes=(40, 12, 12))
    settings = tiny_settings(init="released", released=str(release), epochs=1)
    result = finetune(settings, paths, RunOutputs.under(tmp_path / "run"), k=K, seed=1, model_dir=release,
                      device="cpu", threads=1, progress=False)  # fmt: skip
    assert result["init"] == "released" and result["encoder"] == str(release)


def test_three_classes_and_long_sequences_split_into_windows(tmp_path):
    paths = write_task(tmp_path / "data", sizes=(60, 18, 18), classes=3, long_every=6)
    settings = tiny_settings(epochs=1, eval_batch_size=8)
    result = finetune(settings, paths, RunOutputs.under(tmp_path / "run"), k=K, seed=2, device="cpu", threads=1,
                      progress=False)  # fmt: skip
    assert result["n_classes"] == 3 and len(result["test"]["confusion_matrix"]) == 3
    assert result["data"]["train"] == {"sequences": 60, "rows": 70, "class_counts": [20, 20, 20]}
    header = (tmp_path / "run" / "predictions.tsv").read_text().splitlines()[0].split("\t")
    assert header[-3:] == ["prob_0", "prob_1", "prob_2"]


def test_finetune_command_line(task, tmp_path):
    from dnabert.lm.finetune import main

    settings = json.dumps({"scratch_model": TINY, "epochs": 1, "batch_size": 32, "seeds": [1]})
    assert main(["--data", str(task["train"].parent), "--out", str(tmp_path / "run"), "--kmer", "3", "--seed", "2",
                 "--settings", settings, "--device", "cpu", "--threads", "1"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["init"] == "scratch"
    bad = json.dumps({"scratch_model": TINY, "learning_rate": 1.0})
    assert main(["--data", str(task["train"].parent), "--out", str(tmp_path / "bad"), "--kmer", "3",
                 "--settings", bad]) == 2  # fmt: skip


@pytest.mark.parametrize(
    "values, field",
    [({"init": "released"}, "finetune.released"), ({"lr": 0}, "finetune.lr"), ({"select_on": "speed"},
     "finetune.select_on"), ({"scratch_model": {"layers": 2, "depth": 3}}, "finetune.scratch_model")],
)  # fmt: skip
def test_bad_settings_name_the_field(values, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        FinetuneSettings.from_config(values)


# --------------------------------------------------------------------------- prediction


def test_predict_fasta_and_bed_on_a_genome(first_run, tmp_path):
    rng = np.random.default_rng(4)
    chrom = "".join(rng.choice(list("ACGT"), 2000))
    genome = tmp_path / "genome.fa"
    genome.write_text(">chrT\n" + "\n".join(chrom[i : i + 60] for i in range(0, 2000, 60)) + "\n")
    pysam.faidx(str(genome))
    bed = tmp_path / "regions.bed"
    bed.write_text("chrT\t100\t140\tplus\t0\t+\nchrT\t100\t140\t.\t0\t-\nchrT\t0\t1500\tlong\t0\t+\n")
    fasta = tmp_path / "seqs.fa.gz"
    with gzip.open(fasta, "wt") as handle:
        handle.write(f">a desc\n{chrom[100:140]}\n>b\n{reverse_complement(chrom[100:140])}\n>c\n{chrom[:1500]}\n")
    model = first_run / "model"
    assert predict_file(model, tmp_path / "bed.tsv", bed=bed, genome=genome, device="cpu") == 3
    assert predict_file(model, tmp_path / "fa.tsv", fasta=fasta, device="cpu") == 3
    bed_rows = list(csv.DictReader(open(tmp_path / "bed.tsv"), delimiter="\t"))
    fa_rows = list(csv.DictReader(open(tmp_path / "fa.tsv"), delimiter="\t"))
    assert [r["id"] for r in bed_rows] == ["plus", "chrT:100-140(-)", "long"]
    assert [r["id"] for r in fa_rows] == ["a", "b", "c"]
    assert [r["windows"] for r in fa_rows] == ["1", "1", "3"]  # 1498 3-mers: 510 + 510 + 478
    for b, f in zip(bed_rows, fa_rows):  # same sequences, same scores
        assert b["prob_1"] == f["prob_1"] and b["length"] == f["length"]
    bad = tmp_path / "bad.bed"
    bad.write_text("chrT\t100\t9999\n")
    with pytest.raises(InputError, match=r"bad.bed:1: field 'start/end'"):
        predict_file(model, tmp_path / "x.tsv", bed=bad, genome=genome, device="cpu")
    assert not (tmp_path / "x.tsv").exists()


def test_bf16_training_on_a_cpu_predicts_as_dnabert_predict(task, tmp_path, monkeypatch):
    """``auto`` on a CPU with bf16 instructions trains in bf16; the run's test probabilities are
    the fp32 ones ``dnabert predict`` gives for the exported model."""
    import dnabert.lm.training as training

    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: True)
    out = tmp_path / "run"
    metrics = finetune(tiny_settings(epochs=1), task, RunOutputs.under(out), k=K, seed=3, device="cpu", threads=1,
                       progress=False)  # fmt: skip
    assert metrics["training"]["precision"] == "bf16"
    fasta = tmp_path / "test.fa"
    split = read_split(task["test"])
    fasta.write_text("".join(f">s{i}\n{seq}\n" for i, seq in enumerate(split.sequences)))
    assert predict_file(out / "model", tmp_path / "p.tsv", fasta=fasta, device="cpu") == len(split.sequences)

    def prob_1(path: Path) -> np.ndarray:
        with open(path) as handle:
            return np.array([float(r["prob_1"]) for r in csv.DictReader(handle, delimiter="\t")])

    np.testing.assert_allclose(prob_1(tmp_path / "p.tsv"), prob_1(out / "predictions.tsv"), rtol=1e-5, atol=1e-6)


def test_predict_command_line(first_run, tmp_path):
    from dnabert.cli import main

    fasta = tmp_path / "in.fa"
    fasta.write_text(">s1\nACGTACGTACGTGGGATTACAGGG\n")
    assert main(["predict", "--model", str(first_run / "model"), "--fasta", str(fasta), "--out",
                 str(tmp_path / "o.tsv"), "--device", "cpu"]) == 0  # fmt: skip
    assert (tmp_path / "o.tsv").read_text().splitlines()[1].startswith("s1\t24\t1\t")
    assert main(["predict", "--model", str(tmp_path), "--fasta", str(fasta), "--out", str(tmp_path / "o2.tsv")]) == 2


# --------------------------------------------------------------------------- baselines


def test_kmer_counts_match_a_naive_count():
    seqs = ["ACGTNACGTT", "GGG", "TTTTACG"]
    counts = kmer_counts(seqs, 3).toarray()
    vocab = kmer.vocab(3)
    for row, seq in zip(counts, seqs):
        naive = Counter(seq[i : i + 3] for i in range(len(seq) - 2) if "N" not in seq[i : i + 3])
        assert {vocab[j + kmer.N_SPECIAL]: int(v) for j, v in enumerate(row) if v} == dict(naive)
    canonical = kmer_counts(["AAC", "GTT"], 3, canonical=True).toarray()
    assert canonical.shape[1] == 32 and np.array_equal(canonical[0], canonical[1])
    assert _canonical_map(2).max() + 1 == 10  # 16 2-mers: 6 pairs + 4 palindromes


def test_cnn_on_both_strands_ignores_orientation():
    torch.manual_seed(0)
    model = DeepBindCNN(2, CNNSettings(filters=4, width=5, hidden=4, dropout=0.0, both_strands=True)).eval()
    seq = "ACGTTGCAAGGCT"
    codes = torch.from_numpy(kmer.base_codes(seq).astype(np.int64))[None, :]
    rc = torch.from_numpy(kmer.base_codes(reverse_complement(seq)).astype(np.int64))[None, :]
    padded = torch.cat([codes, torch.full((1, 4), 5)], dim=1)  # padding must not matter either
    lengths = torch.tensor([len(seq)])
    out = model(codes, lengths)
    assert torch.allclose(out, model(rc, lengths), atol=1e-6)
    assert torch.allclose(out, model(padded, lengths), atol=1e-6)


def test_baselines_learn_a_planted_motif(task):
    splits, n_classes = read_task(task)
    settings = BaselineSettings.from_config({"kmer_lr": {"k": [3, 4]}, "cnn": {"filters": 16, "width": 12,
                                                                               "epochs": 25}})  # fmt: skip
    lr_metrics, lr_probs, lr_info = run_baseline("kmer_lr", splits, n_classes, settings, seeds=[1])
    assert list(lr_metrics) == ["deterministic"] and lr_metrics["deterministic"]["auroc"] > 0.8
    assert lr_probs["deterministic"].shape == (48, 2) and lr_info["deterministic"]["C"] in settings.kmer_lr.C
    cnn_metrics, _, cnn_info = run_baseline("cnn", splits, n_classes, settings, seeds=[1, 2])
    assert list(cnn_metrics) == ["1", "2"] and all(m["auroc"] > 0.8 for m in cnn_metrics.values())
    again, _, _ = run_baseline("cnn", splits, n_classes, settings, seeds=[1])
    assert again["1"] == cnn_metrics["1"]  # deterministic per seed on CPU
    with pytest.raises(InputError, match="baselines.cnn"):
        BaselineSettings.from_config({"cnn": {"kernels": 3}})


# --------------------------------------------------------------------------- real data: NFE2 peaks


NFE2 = "tf/nfe2_gm12878/wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0"


def nfe2_task(out: Path) -> dict[str, Path]:
    """The NFE2 peaks and GC-matched negatives as a `table` task, built by bench/bench_nfe2.py's own
    step: the .tr files split 85/15 into train/dev at random, the .test files kept as test."""
    from conftest import bench_module, shared_file

    for suffix in (".tr.fa", ".neg.tr.fa", ".test.fa", ".neg.test.fa"):
        shared_file(f"{NFE2}{suffix}")  # skip (or fail in CI) when absent
    return bench_module("bench_nfe2").build(out)


@pytest.mark.realdata
def test_nfe2_end_to_end_reports_auroc_and_mcc_for_model_and_baselines(tmp_path):
    """Real ENCODE NFE2 peaks: a tiny 6-mer BERT (a few steps) and both baselines, scored on the same test split.

    Fast by design; the full-size numbers are in the README (bench/bench_nfe2.py).
    """
    paths = nfe2_task(tmp_path / "data")
    splits, n_classes = read_task(paths)
    assert n_classes == 2 and len(splits["test"]) == 138 and 180 < len(splits["dev"]) < 210
    settings = tiny_settings(scratch_model={"layers": 1, "hidden": 32, "heads": 2, "intermediate": 64,
                                            "attention_dropout": 0.0},
                             epochs=1, max_steps=30, batch_size=32, eval_every_steps=15, lr=1e-3)  # fmt: skip
    threads = torch.get_num_threads()
    try:  # one thread: several on a busy small machine only spin
        model = finetune(settings, paths, RunOutputs.under(tmp_path / "bert"), k=6, seed=1, device="cpu", threads=1,
                         progress=False)["test"]  # fmt: skip
        baseline_settings = BaselineSettings.from_config({"cnn": {"filters": 16, "width": 15, "epochs": 6}})
        lr, _, _ = run_baseline("kmer_lr", splits, n_classes, baseline_settings, seeds=[1])
        cnn, _, _ = run_baseline("cnn", splits, n_classes, baseline_settings, seeds=[1])
    finally:
        torch.set_num_threads(threads)
    results = {"bert": model, "kmer_lr": lr["deterministic"], "cnn": cnn["1"]}
    for name, metrics in results.items():
        assert metrics["auroc"] is not None and -1 <= metrics["mcc"] <= 1, name
        print(f"NFE2 {name}: AUROC {metrics['auroc']:.3f}, MCC {metrics['mcc']:.3f}")
    assert results["kmer_lr"]["auroc"] > 0.75  # a real, learnable signal (NFE2's MARE motif)


def test_cpu_precision_bench_runs_each_task_in_fp32_then_bf16(tmp_path, capsys):
    """bench/bench_cpu_precision.py on a tiny demo-like results folder: both precisions, one table row."""
    from conftest import bench_module

    bench = bench_module("bench_cpu_precision")
    write_task(tmp_path / "results" / "datasets" / "ctcf", sizes=(64, 32, 32))
    out = tmp_path / "rows.json"
    assert bench.main(["--results", str(tmp_path / "results"), "--tasks", "ctcf", "--inits", "scratch",
                       "--json", str(out)]) == 0  # fmt: skip
    (row,) = json.loads(out.read_text())
    assert (row["task"], row["init"]) == ("ctcf", "scratch")
    assert (row["fp32_precision"], row["bf16_precision"]) == ("fp32", "bf16")
    assert row["fp32_seconds"] > 0 and row["bf16_seconds"] > 0
    assert abs(row["fp32_dev_loss"] - row["bf16_dev_loss"]) < 0.05  # same data, seed and recipe
    assert "| ctcf | scratch | 0.001 |" in capsys.readouterr().out
