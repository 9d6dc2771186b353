"""MLM pretraining: batching, packing, prefetching, resume determinism (signal, crash, truncated checkpoint),
TensorBoard, DDP on CPU with gloo (one node, and two torchrun agents as on two SLURM nodes), pretrained start."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch
from safetensors.torch import load_file

from conftest import REPO
from dnabert.lm import kmer
from dnabert.lm.corpus import CorpusSettings, build_corpus
from dnabert.io import InputError
from dnabert.lm.models import ModelSettings, new_model, save_model
from dnabert.lm.pretrain.batches import BatchPlan, make_micro_batch
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain import objective as objective_module
from dnabert.lm.pretrain.objective import (
    MaskedLMObjective,
    evaluate,
    evaluation_row,
    frequency_pieces,
    kmer_log_frequencies,
)
from dnabert.lm.pretrain.cli import parse_args, run
from dnabert.lm.pretrain.pieces import PAD_MULTIPLE, PieceStore, split_pieces
from dnabert.lm.pretrain.pipeline import train
from dnabert.lm.pretrain.settings import MaskingSettings, OptimizerSettings, Outputs, PretrainSettings
from dnabert.lm.checkpointing import Preempted
from dnabert.lm.masking import seeded_generator
from dnabert.lm.tensorboard_log import read_scalars

SETTINGS = PretrainSettings(
    k=6,
    model=ModelSettings(layers=1, hidden=32, heads=2, intermediate=64),
    masking=MaskingSettings(rate=0.15, final_rate=0.2, final_fraction=0.25),
    optimizer=OptimizerSettings(lr=2e-3, warmup_steps=2),
    steps=8,
    batch_tokens=1024,
    gradient_accumulation=2,
    checkpoint_every_steps=3,
    keep_checkpoints=2,
    eval_every_steps=4,
    eval_pieces=12,
    log_every_steps=2,
    seed=5,
)
DEV = ["chrC"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return build_tiny_corpus(tmp_path_factory.mktemp("corpus"))


def build_tiny_corpus(root: Path) -> Path:
    """A corpus of random sequence: chrA and chrB to train on, chrC held out."""
    rng = np.random.default_rng(1)
    with open(root / "genome.fa", "w") as handle:
        for name, size in (("chrA", 24_000), ("chrB", 12_000), ("chrC", 6_000)):
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size)].tobytes().decode()
            handle.write(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, size, 60)) + "\n")
    pysam.tabix_compress(str(root / "genome.fa"), str(root / "genome.fa.gz"), force=True)
    pysam.faidx(str(root / "genome.fa.gz"))
    build_corpus(root / "genome.fa.gz", root / "k6", CorpusSettings(k=6, seed=3), progress=False)
    return root / "k6"


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_file(str(directory / "model.safetensors"))


# --------------------------------------------------------------------------- data


def test_batches_cover_each_training_piece_once_per_epoch_with_little_padding(corpus):
    store = PieceStore(corpus)
    train_ids, eval_ids, source = split_pieces(store, DEV, eval_pieces=5, seed=1)
    assert "chrC" in source and eval_ids.size == 5
    chrc = store.chromosomes.index("chrC")
    assert (store.chrom[eval_ids] == chrc).all() and not (store.chrom[train_ids] == chrc).any()
    plan = BatchPlan(train_ids, store.lengths[train_ids], 1024, seed=2)
    epoch = plan.epoch(0)
    assert np.array_equal(np.sort(np.concatenate(epoch)), np.sort(train_ids))
    real = padded = 0
    for batch in epoch:
        width = -(-int(store.lengths[batch].max()) // PAD_MULTIPLE) * PAD_MULTIPLE
        assert width * batch.size <= 1024 or batch.size == 1
        real += int(store.lengths[batch].sum())
        padded += width * batch.size
    assert 1 - real / padded < 0.10
    # micro-batch i is a pure function of (seed, i), across epochs too
    again = BatchPlan(train_ids, store.lengths[train_ids], 1024, seed=2)
    n = len(epoch)
    assert np.array_equal(again.at(n + 3), plan.at(n + 3)) and not np.array_equal(plan.at(n + 3), plan.at(3))


def test_micro_batch_gathers_pieces_and_masks_only_real_tokens(corpus):
    store = PieceStore(corpus)
    pieces = np.array([0, 5, len(store) - 1])
    batch = make_micro_batch(store, pieces, 6, 0.15, seeded_generator(1))
    for row, piece in enumerate(pieces):
        length = int(store.lengths[piece])
        original = torch.from_numpy(store.reader[int(piece)].astype(np.int64))
        unmasked = torch.ones(length, dtype=torch.bool)
        flat = batch.positions[(batch.positions // batch.input_ids.shape[1]) == row] % batch.input_ids.shape[1]
        unmasked[flat] = False
        assert torch.equal(batch.input_ids[row, :length][unmasked], original[unmasked])
        assert (batch.input_ids[row, length:] == kmer.PAD_ID).all()
    assert torch.equal(batch.targets, torch.from_numpy(store.gather(pieces)[0]).reshape(-1)[batch.positions])
    assert batch.real_tokens == int(store.lengths[pieces].sum())


def test_packed_micro_batch_has_the_padded_masks_and_loss(corpus):
    """Packed: the same masked tokens and targets, and the same loss and gradients (fp32, 1e-5)."""
    store = PieceStore(corpus)
    train_ids, _, _ = split_pieces(store, DEV, eval_pieces=5, seed=1)
    plan = BatchPlan(train_ids, store.lengths[train_ids], 2048, seed=2)
    model = new_model(6, replace(SETTINGS.model, layers=2), seed=3)
    objective = MaskedLMObjective(model).eval()  # no dropout: the two layouts draw different dropout masks
    mixed = 0
    for position in range(6):
        padded = make_micro_batch(store, plan.at(position), 6, 0.15, seeded_generator(1, position))
        packed = make_micro_batch(store, plan.at(position), 6, 0.15, seeded_generator(1, position), packed=True)
        mixed += len(packed.layout.runs) > 1
        lengths = store.lengths[plan.at(position)]
        assert packed.input_ids.shape == (int(lengths.sum()),) and packed.padded_tokens == packed.real_tokens
        assert torch.equal(packed.targets, padded.targets)
        real = padded.input_ids.reshape(-1)[padded.attention_mask.reshape(-1).bool()] if padded.attention_mask \
            is not None else padded.input_ids.reshape(-1)
        assert torch.equal(packed.input_ids, real)  # every replacement ([MASK], random, kept) is the padded one's
        assert torch.equal(packed.input_ids[packed.positions], padded.input_ids.reshape(-1)[padded.positions])
        results = []
        for batch in (padded, packed):
            objective.zero_grad()
            loss, correct = objective(batch.input_ids, batch.attention_mask, batch.positions, batch.targets,
                                      batch.layout)
            loss.backward()
            grads = {name: p.grad.clone() for name, p in objective.named_parameters() if p.grad is not None}
            results.append((loss.detach(), correct, grads))
        (loss_a, correct_a, grads_a), (loss_b, correct_b, grads_b) = results
        torch.testing.assert_close(loss_b, loss_a, rtol=1e-5, atol=0)
        assert correct_a == correct_b
        for name in grads_a:
            torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-4, atol=1e-6, msg=name)
    assert mixed, "no micro-batch mixed piece lengths"


class CopyTheInput(MaskedLMObjective):
    """A 'model' that predicts whatever k-mer it is shown: right exactly where a masked position was left unchanged."""

    def masked_logits(self, input_ids, attention_mask, positions, layout=None):
        shown = input_ids.reshape(-1).index_select(0, positions)
        return torch.nn.functional.one_hot(shown, kmer.vocab_size(6)).float() * 20.0


@pytest.mark.parametrize("packed", [False, True])
def test_held_out_accuracy_is_split_by_what_the_model_was_shown(corpus, packed):
    """Copying the input scores 0 at [MASK] and random inputs and 1 at unchanged ones (the 10 % that inflate accuracy)."""
    store = PieceStore(corpus)
    _, eval_ids, _ = split_pieces(store, DEV, eval_pieces=12, seed=1)
    batches = [eval_ids[:6], eval_ids[6:]]
    settings = replace(SETTINGS, packing=packed)
    result = evaluate(CopyTheInput(new_model(6, SETTINGS.model, seed=3)), store, batches, settings, Dist(),
                      contextlib.nullcontext)  # fmt: skip
    parts = result["by_input"]
    assert parts["mask"]["accuracy"] == 0 and parts["random"]["accuracy"] == 0 and parts["unchanged"]["accuracy"] == 1
    assert parts["unchanged"]["loss"] < 1e-4 < 10 < parts["mask"]["loss"]
    assert result["accuracy"] == pytest.approx(parts["unchanged"]["tokens"] / result["masked_tokens"])
    assert 0.05 < parts["unchanged"]["tokens"] / result["masked_tokens"] < 0.15
    assert evaluation_row(result)["eval_mask_accuracy"] == 0


def test_kmer_frequencies_are_the_training_pieces_counts_and_score_the_held_out_targets(corpus, monkeypatch):
    """The no-context baseline: add-one smoothed k-mer counts of the training pieces, scored at each masked target."""
    store = PieceStore(corpus)
    train_ids, eval_ids, _ = split_pieces(store, DEV, eval_pieces=12, seed=1)
    vocab = kmer.vocab_size(6)
    log_p = kmer_log_frequencies(store, train_ids, vocab, seed=1)
    ids, _ = store.gather(train_ids)
    counts = np.bincount(ids[ids >= kmer.N_SPECIAL], minlength=vocab)[kmer.N_SPECIAL :] + 1.0
    assert torch.allclose(log_p[kmer.N_SPECIAL :], torch.from_numpy(np.log(counts / counts.sum())))
    assert torch.isinf(log_p[: kmer.N_SPECIAL]).all() and float(log_p.exp().sum()) == pytest.approx(1.0)
    monkeypatch.setattr(objective_module, "FREQUENCY_TOKENS", 2_000)  # a large corpus: a seeded sample is counted
    sampled = kmer_log_frequencies(store, train_ids, vocab, seed=1)
    assert torch.equal(sampled, kmer_log_frequencies(store, train_ids, vocab, seed=1))
    assert not torch.equal(sampled, log_p) and float(sampled.exp().sum()) == pytest.approx(1.0)
    chosen = frequency_pieces(store, train_ids, seed=1)  # the fewest shuffled pieces that hold 2,000 tokens
    assert set(chosen) < set(train_ids) and np.array_equal(chosen, np.sort(chosen))
    assert 2_000 <= store.lengths[chosen].sum() < 2_000 + store.lengths[chosen].max()
    ids, _ = store.gather(chosen)
    expected = np.bincount(ids[ids >= kmer.N_SPECIAL], minlength=vocab)[kmer.N_SPECIAL :] + 1.0
    assert torch.allclose(sampled[kmer.N_SPECIAL :], torch.from_numpy(np.log(expected / expected.sum())))
    batches = [eval_ids[:6], eval_ids[6:]]
    result = evaluate(CopyTheInput(new_model(6, SETTINGS.model, seed=3)), store, batches, SETTINGS, Dist(),
                      contextlib.nullcontext, log_p)  # fmt: skip
    targets = torch.cat([make_micro_batch(store, b, 6, SETTINGS.masking.rate,
                                          seeded_generator(SETTINGS.seed, objective_module.EVAL_STREAM, i)).targets
                         for i, b in enumerate(batches)])  # fmt: skip
    assert result["frequency_loss"] == pytest.approx(float(-log_p[targets].double().mean()), rel=1e-9)
    parts = result["by_input"]
    assert sum(part["frequency_loss"] * part["tokens"] for part in parts.values()) == pytest.approx(
        result["frequency_loss"] * result["masked_tokens"], rel=1e-9)
    assert 8.0 < parts["mask"]["frequency_loss"] < 8.6  # random sequence: close to ln 4^6 = 8.32
    assert "frequency_loss" not in evaluate(CopyTheInput(new_model(6, SETTINGS.model, seed=3)), store, batches,
                                            SETTINGS, Dist(), contextlib.nullcontext)  # fmt: skip


def test_prefetched_micro_batches_are_the_synchronous_ones(corpus):
    """The background thread builds exactly the batches (pieces, masks, rates) the step would build itself."""
    from dnabert.lm.loading import Prefetcher

    store = PieceStore(corpus)
    train_ids, _, _ = split_pieces(store, DEV, eval_pieces=5, seed=1)
    plan = BatchPlan(train_ids, store.lengths[train_ids], 1024, seed=2)
    jobs = [(position, 0.15 if position < 20 else 0.2) for position in range(40)]  # beyond one epoch

    def build(job):
        position, rate = job
        return make_micro_batch(store, plan.at(position), 6, rate, seeded_generator(5, position))

    synchronous = list(Prefetcher(jobs, build, depth=0))
    with Prefetcher(jobs, build, depth=3) as feed:
        ahead = list(feed)
    assert len(ahead) == len(synchronous) == 40 and len(plan.epoch(0)) < 40
    for a, b in zip(synchronous, ahead):
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.positions, b.positions)
        assert torch.equal(a.targets, b.targets)


# --------------------------------------------------------------------------- training, resume


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("full")
    records = RecordingHandler()
    logging.getLogger("dnabert.lm.pretrain").addHandler(records)
    try:
        metrics = train(SETTINGS, corpus, Outputs.under(out), DEV, threads=1, progress=False)
    finally:
        logging.getLogger("dnabert.lm.pretrain").removeHandler(records)
    metrics["_warnings"] = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
    return out, metrics


class RecordingHandler(logging.Handler):
    """Keeps the records it is given (a module-scoped fixture cannot use caplog)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_training_writes_every_output(uninterrupted):
    out, metrics = uninterrupted
    assert metrics["steps"] == 8 and metrics["tokens"] > 0 and "tokens_per_second" not in metrics
    assert metrics["kernels"].startswith("cpu ") and metrics["precision"] in ("fp32", "bf16")
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["eval"]["pieces"] == 12 and 0 < saved["eval"]["loss"] < 20 and "chrC" in saved["eval"]["held_out"]
    assert saved["padding_fraction"] < 0.10
    by_input = saved["eval"]["by_input"]  # the held-out figures split by what the masked positions showed
    assert sum(part["tokens"] for part in by_input.values()) == saved["eval"]["masked_tokens"]
    assert sum(part["tokens"] * part["loss"] for part in by_input.values()) == pytest.approx(
        saved["eval"]["loss"] * saved["eval"]["masked_tokens"], rel=1e-6)
    assert 0.7 < by_input["mask"]["tokens"] / saved["eval"]["masked_tokens"] < 0.9
    # 8 steps on random sequence learn nothing from context: no better than the k-mer frequencies at [MASK]
    assert by_input["mask"]["loss"] > by_input["mask"]["frequency_loss"] - 0.05
    assert saved["eval"]["frequency_loss"] > 0
    assert any("no better than the training k-mer frequencies" in w for w in metrics["_warnings"])
    header, *rows = (out / "training_log.csv").read_text().splitlines()
    assert "eval_mask_accuracy" in header.split(",")
    assert header.startswith("step,tokens,elapsed_s,lr,mask_rate,train_loss")
    assert [row.split(",")[0] for row in rows] == ["2", "4", "6", "8"]
    assert rows[-1].split(",")[4] == "0.2"  # the final mask rate in the last quarter
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    written = {p.name for p in (out / "model").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt"} <= written
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["step_00000006", "step_00000008"]
    scalars = read_scalars(out / "tensorboard")  # the log's numbers as TensorBoard scalars
    assert [step for step, _ in scalars["train/loss"]] == [2, 4, 6, 8]
    assert [step for step, _ in scalars["held_out/masked_accuracy"]] == [4, 8]
    assert [step for step, _ in scalars["held_out/accuracy_at_mask_inputs"]] == [4, 8]
    logged = [float(row.split(",")[5]) for row in rows]
    assert [value for _, value in scalars["train/loss"]] == pytest.approx(logged)
    assert {"optimizer/lr", "masking/rate", "train/masked_accuracy", "speed/tokens_per_s"} <= set(scalars)


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("how", ["sigterm", "crash"])
def test_resume_reaches_identical_weights(corpus, uninterrupted, tmp_path, how):
    """Stop mid-run (SIGTERM: checkpoint at the next step; crash: the last periodic one), rerun, compare."""
    outputs = Outputs.under(tmp_path)

    def interrupt(step: int) -> None:
        if step == 4 and how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        if step == 5 and how == "crash":
            raise Crash()

    with pytest.raises(Preempted if how == "sigterm" else Crash):
        train(SETTINGS, corpus, outputs, DEV, threads=1, progress=False, on_step=interrupt)
    expected_step = 5 if how == "sigterm" else 3
    assert [p.name for p in sorted(outputs.checkpoints.iterdir())][-1] == f"step_{expected_step:08d}"
    assert not outputs.metrics.exists()
    metrics = train(SETTINGS, corpus, outputs, DEV, threads=1, progress=False)
    assert metrics["resumed_from_step"] == expected_step and metrics["steps"] == 8
    assert metrics["tokens"] == uninterrupted[1]["tokens"]
    assert_same_weights(uninterrupted[0] / "model", outputs.model)
    logged = [step for step, _ in read_scalars(outputs.tensorboard)["train/loss"]]
    assert logged == ([2, 4, 5, 6, 8] if how == "sigterm" else [2, 4, 6, 8])  # each once (5: the stop's row)


def assert_same_weights(reference_dir: Path, resumed_dir: Path) -> None:
    reference, resumed = _weights(reference_dir), _weights(resumed_dir)
    assert reference.keys() == resumed.keys()
    assert all(torch.equal(reference[key], resumed[key]) for key in reference)


def test_prefetching_keeps_the_weights_and_packing_keeps_the_trajectory(corpus, uninterrupted, tmp_path):
    """Batches built in the step (prefetch 0) give the prefetched run's weights bit for bit; packed pieces give
    the padded run's weights to float rounding (dropout off: the layouts draw different dropout masks)."""
    synchronous = train(replace(SETTINGS, prefetch=0), corpus, Outputs.under(tmp_path / "sync"), DEV, threads=1,
                        progress=False)
    reference = _weights(uninterrupted[0] / "model")
    assert all(torch.equal(reference[key], value) for key, value in _weights(tmp_path / "sync" / "model").items())
    assert synchronous["eval"] == uninterrupted[1]["eval"]
    # fp32: the layouts sum in different orders, which bf16 autocast (auto on a CPU with bf16) would amplify
    no_dropout = replace(SETTINGS, precision="fp32", model=replace(SETTINGS.model, dropout=0.0, attention_dropout=0.0))
    runs = {}
    for packing in (False, True):
        runs[packing] = train(replace(no_dropout, packing=packing), corpus, Outputs.under(tmp_path / str(packing)),
                              DEV, threads=1, progress=False)
    assert runs[True]["padding_fraction"] == 0 < runs[False]["padding_fraction"]
    assert runs[True]["tokens"] == runs[False]["tokens"]
    assert runs[True]["eval"]["masked_tokens"] == runs[False]["eval"]["masked_tokens"]
    assert runs[True]["eval"]["loss"] == pytest.approx(runs[False]["eval"]["loss"], rel=1e-4)
    padded, packed = _weights(tmp_path / "False" / "model"), _weights(tmp_path / "True" / "model")
    for key in padded:
        torch.testing.assert_close(packed[key], padded[key], rtol=1e-4, atol=1e-5, msg=key)


def test_truncated_newest_checkpoint_is_skipped_and_named(corpus, uninterrupted, tmp_path, caplog):
    """A newest checkpoint cut short (the job killed while it was flushed) is skipped; the older one resumes."""
    outputs = Outputs.under(tmp_path)
    shutil.copytree(uninterrupted[0] / "checkpoints", outputs.checkpoints)  # steps 6 and 8
    weights = outputs.checkpoints / "step_00000008" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="dnabert.lm.checkpointing"):
        metrics = train(SETTINGS, corpus, outputs, DEV, threads=1, progress=False)
    assert metrics["resumed_from_step"] == 6 and metrics["steps"] == 8
    warning = next(r.getMessage() for r in caplog.records if "skipping checkpoint" in r.getMessage())
    assert str(weights) in warning and "SafetensorError" in warning
    assert_same_weights(uninterrupted[0] / "model", outputs.model)
    assert [p.name for p in sorted(outputs.checkpoints.iterdir())] == ["step_00000006", "step_00000008"]
    assert _weights(outputs.checkpoints / "step_00000008").keys()  # rewritten whole


def test_checkpoints_of_other_settings_are_not_resumed(corpus, tmp_path):
    outputs = Outputs.under(tmp_path)
    train(replace(SETTINGS, steps=2), corpus, outputs, DEV, threads=1, progress=False)
    (outputs.checkpoints / ".step_00000003.half-written").mkdir()  # a write interrupted by a crash
    metrics = train(replace(SETTINGS, seed=6, steps=2), corpus, outputs, DEV, threads=1, progress=False)
    assert metrics["resumed_from_step"] is None
    assert [p.name for p in outputs.checkpoints.iterdir()] == ["step_00000002"]  # only the new run's
    # rerunning a finished run resumes at its final checkpoint and only re-exports
    metrics = train(replace(SETTINGS, seed=6, steps=2), corpus, outputs, DEV, threads=1, progress=False)
    assert metrics["resumed_from_step"] == 2


# Two processes x 1 micro-batch must match 1 process x 2 micro-batches (dropout off).
DDP_SETTINGS = replace(SETTINGS, steps=16, checkpoint_every_steps=2, eval_every_steps=100, gradient_accumulation=1,
                       model=replace(SETTINGS.model, dropout=0.0, attention_dropout=0.0))  # fmt: skip


@pytest.fixture(scope="module")
def one_process(corpus, tmp_path_factory) -> tuple[Path, dict]:
    """The reference of the DDP tests: one process with twice the accumulation."""
    out = tmp_path_factory.mktemp("one_process")
    metrics = train(replace(DDP_SETTINGS, gradient_accumulation=2), corpus, Outputs.under(out), DEV, threads=1,
                    progress=False)  # fmt: skip
    return out, metrics


def _pretrain_arguments(corpus: Path, out: Path, settings: PretrainSettings) -> list[str]:
    section = {key: value for key, value in asdict(settings).items() if key != "k"}
    return ["dnabert.lm.pretrain", "--corpus", str(corpus), "--kmer", "6", "--settings", json.dumps(section),
            "--dev-chromosomes", *DEV, "--device", "cpu", "--threads", "2",
            "--model", str(out / "model"), "--metrics", str(out / "metrics.json"), "--history", str(out / "log.csv"),
            "--plot", str(out / "loss.png"), "--checkpoints", str(out / "ckpt")]  # fmt: skip


def _assert_matches_one_process(out: Path, one_process: tuple[Path, dict]) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    single_dir, single = one_process
    assert metrics["processes"] == 2 and metrics["steps"] == DDP_SETTINGS.steps
    assert single["tokens"] == metrics["tokens"]
    assert metrics["eval"]["masked_tokens"] == single["eval"]["masked_tokens"]
    reference, distributed = _weights(single_dir / "model"), _weights(out / "model")
    for key in reference:
        torch.testing.assert_close(distributed[key], reference[key], rtol=1e-4, atol=1e-5, msg=key)
    assert metrics["eval"]["loss"] == pytest.approx(single["eval"]["loss"], rel=1e-4)
    assert metrics["eval"]["frequency_loss"] == pytest.approx(single["eval"]["frequency_loss"], rel=1e-9)
    return metrics


def test_ddp_on_cpu_with_gloo_matches_one_process(corpus, one_process, tmp_path):
    """torchrun --standalone (pretrain.gpus: 2 on one node), 2 processes x 1 micro-batch."""
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
               *_pretrain_arguments(corpus, out, DDP_SETTINGS)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    _assert_matches_one_process(out, one_process)


FAKE_SRUN = """#!{python}
# srun on one machine: one copy of the command per node (SLURM_NODEID, SLURM_PROCID), the job's signals ignored
# (SLURM signals every process of the step itself); exits with the first failure.
import os, signal, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
args = sys.argv[1:]
nodes = int(args[args.index("--nodes") + 1])
while args[0].startswith("-"):
    args = args[1:] if "=" in args[0] else args[2:]
copies = [subprocess.Popen(args, env={{**os.environ, "SLURM_NODEID": str(i), "SLURM_PROCID": str(i)}})
          for i in range(nodes)]
codes = [copy.wait() for copy in copies]
sys.exit(next((code for code in codes if code), 0))
"""


def _fake_slurm(bin_dir: Path) -> dict[str, str]:
    """srun and scontrol stand-ins on PATH, and a job id whose rendezvous port is free."""
    import socket

    bin_dir.mkdir()
    (bin_dir / "srun").write_text(FAKE_SRUN.format(python=sys.executable))
    (bin_dir / "scontrol").write_text("#!/bin/sh\necho 127.0.0.1\n")  # show hostnames: the first node
    for tool in ("srun", "scontrol"):
        (bin_dir / tool).chmod(0o755)
    for port in np.random.default_rng().permutation(np.arange(29500, 49500)).tolist():  # the launcher's port range
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
    job_id = port - 29500  # the launcher listens on 29500 + SLURM_JOB_ID % 20000
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SLURM_JOB_ID": str(job_id),
            "SLURM_JOB_NODELIST": "node[1-2]"}  # fmt: skip


def test_two_nodes_under_slurm_match_one_process_and_resume(corpus, one_process, tmp_path):
    """pretrain.nodes: 2 as the rule runs it (srun + one torchrun agent per node, c10d rendezvous on the first
    node), here two agents on 127.0.0.1 with gloo: stopped by SIGTERM, resumed, the weights of one process."""
    from dnabert.lm.pretrain.launch import launcher

    out = tmp_path / "nodes"
    prefix = launcher(shlex.quote(sys.executable), gpus=0, nodes=2, threads=1)
    command = f"{prefix} {shlex.join(_pretrain_arguments(corpus, out, DDP_SETTINGS))}"
    assert command.startswith("srun --nodes 2 ") and "--rdzv_backend c10d" in command
    env = {**os.environ, **_fake_slurm(tmp_path / "bin"), "PYTHONPATH": str(REPO / "workflow"), "OMP_NUM_THREADS": "1"}

    first = subprocess.Popen(["bash", "-c", command], env=env, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while not (out / "ckpt" / "step_00000002").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGTERM)  # SLURM pre-emption: every process of the job
    log_text = first.communicate(timeout=120)[0]
    assert first.returncode != 0 and not (out / "metrics.json").exists(), log_text[-4000:]
    stopped_at = max(int(p.name.split("_")[1]) for p in (out / "ckpt").iterdir() if p.name.startswith("step_"))
    assert 2 <= stopped_at < DDP_SETTINGS.steps, log_text[-4000:]

    second = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-4000:]
    metrics = _assert_matches_one_process(out, one_process)
    assert metrics["resumed_from_step"] == stopped_at


# --------------------------------------------------------------------------- pretrained, settings, CLI


def test_pretrained_model_is_evaluated_and_exported_without_training(corpus, tmp_path):
    source = save_model(new_model(6, SETTINGS.model, seed=9), tmp_path / "source", 6)
    settings = replace(SETTINGS, pretrained=str(source), continue_pretraining=False)
    metrics = train(settings, corpus, Outputs.under(tmp_path / "out"), DEV, threads=1, progress=False)
    assert metrics["steps"] == 0 and metrics["pretrained"] == str(source)
    assert metrics["eval"]["loss"] > 0
    exported = _weights(tmp_path / "out" / "model")
    original = _weights(source)
    assert all(torch.equal(exported[key], original[key]) for key in original)


def test_continued_pretraining_starts_from_the_loaded_weights(corpus, tmp_path):
    source = save_model(new_model(6, SETTINGS.model, seed=9), tmp_path / "source", 6)
    settings = replace(SETTINGS, pretrained=str(source), steps=2, checkpoint_every_steps=10)
    metrics = train(settings, corpus, Outputs.under(tmp_path / "out"), DEV, threads=1, progress=False)
    assert metrics["steps"] == 2


def test_settings_from_config_and_errors():
    section = {
        "model": {"layers": 1, "hidden": 32, "heads": 2, "intermediate": 64},
        "masking": {"rate": 0.15, "final_rate": None},
        "optimizer": {"betas": [0.9, 0.98]},
        "steps": 10,
        "gpus": 0,
        "threads": 2,
    }
    settings = PretrainSettings.from_config(section, 6)
    assert settings.optimizer.betas == (0.9, 0.98) and settings.masking.rate_at(9, 10) == 0.15
    assert MaskingSettings().rate_at(99_999, 120_000) == 0.15 and MaskingSettings().rate_at(100_000, 120_000) == 0.2
    assert OptimizerSettings(warmup_steps=10).lr_factor(4, 100) == 0.5
    with pytest.raises(InputError, match="pretrain.model"):
        PretrainSettings.from_config({"model": {"layer": 2}}, 6)
    with pytest.raises(InputError, match="batch_tokens"):
        PretrainSettings(batch_tokens=100)


def test_cli_reports_bad_input(corpus, tmp_path, caplog):
    section = json.dumps({"steps": 1, "batch_tokens": 1024})
    args = ["--corpus", str(corpus), "--kmer", "5", "--settings", section, "--device", "cpu",
            "--model", str(tmp_path / "m"), "--metrics", str(tmp_path / "m.json"), "--history", str(tmp_path / "h.csv"),
            "--plot", str(tmp_path / "p.png"), "--checkpoints", str(tmp_path / "c")]
    assert run(parse_args(args)) == 2
    assert "corpus holds 6-mers but kmer is 5" in caplog.text


def test_every_chromosome_held_out_is_an_error(corpus):
    store = PieceStore(corpus)
    with pytest.raises(InputError, match="splits.dev"):
        split_pieces(store, ["chrA", "chrB", "chrC"], eval_pieces=5, seed=1)
    train_ids, eval_ids, source = split_pieces(store, [], eval_pieces=5, seed=1)
    assert eval_ids.size == 5 and "random" in source and np.intersect1d(train_ids, eval_ids).size == 0


def test_pretrain_config_section_is_validated():
    import copy

    import yaml

    from dnabert.config.validation import ConfigError, validate_config

    schema = REPO / "config" / "schema" / "config.schema.yaml"
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_config(copy.deepcopy(config), schema)
    for name in ("config/config.yaml", "config/hg38.yaml", "tests/config/tiny.yaml"):
        section = yaml.safe_load((REPO / name).read_text())["pretrain"]
        settings = PretrainSettings.from_config(section, 6)  # every config builds valid settings
        assert settings.model.max_positions == 512
    minimal = {"genome": {"name": "g", "simulate": {}}}
    validate_config(minimal, schema)
    assert minimal["pretrain"]["model"]["layers"] == 12 and minimal["pretrain"]["optimizer"]["lr"] == 4e-4
    bad = copy.deepcopy(config)
    bad["pretrain"]["model"]["hidden"] = 130
    bad["pretrain"]["pretrained"] = "/nonexistent/dnabert6"
    bad["pretrain"]["masking"]["rate"] = 1.5
    with pytest.raises(ConfigError) as caught:
        validate_config(bad, schema)
    assert any("pretrain.masking.rate" in problem for problem in caught.value.problems)
    del bad["pretrain"]["masking"]["rate"]
    with pytest.raises(ConfigError) as caught:
        validate_config(bad, schema)
    text = "\n".join(caught.value.problems)
    assert "pretrain.model.hidden: 130 is not divisible by heads" in text and "pretrain.pretrained" in text
