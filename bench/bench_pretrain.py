#!/usr/bin/env python
"""Benchmark of MLM pretraining throughput: our loop (padded as before, prefetched, packed) vs transformers.Trainer.

All in one run, on the same model config (the demo's ``pretrain.model`` unless
overridden), the same corpus pieces, the same optimizer settings and the same
padded-token budget per step (``--batch`` sequences of up to 512 tokens):

1. ``ours_before``: ``dnabert.lm.pretrain.pipeline.train`` as it was before packing
   and prefetching (``packing: false, prefetch: 0``: length-grouped padded batches,
   DNABERT span masking, MLM head only at the masked positions, batches built in the step);
2. ``ours_prefetch``: the same with batches built ahead in a background thread (``prefetch: 2``);
3. ``ours_packed``: packed micro-batches (no padding, attention within each piece) and prefetching;
4. ``trainer``: ``transformers.Trainer`` + ``DataCollatorForLanguageModeling`` (random
   batches padded to their longest piece, per-token 15 % masking, MLM head on every
   position), as run_mlm.py does it;
5. ``trainer_group_by_length``: the same Trainer with ``train_sampling_strategy="group_by_length"``.

With ``--rounds R`` every contender runs R times, interleaved (1, 2, ..., 5, 1, 2, ...),
so load from other jobs on a shared machine falls on all of them alike.
Throughput is real (non-padding) tokens per second of each timed step (the first
``--warmup`` steps of each round are left out), the median over all timed steps
(robust to other load), with the overall mean. Model FLOPs utilisation (MFU) counts the FLOPs the model needs for
those tokens, the same for every contender: 6 x the encoder's matrix parameters,
12 x layers x hidden x sequence length for attention, and the MLM head (transform +
decoder) at the masked 15 % only; against the machine's fp32 matmul rate measured
here (best of several 2048^3 products with the same threads, measured before every round). Packed and padded runs
train on the same batches with the same masks; their losses agree to float rounding.

``bench/gpu_check.py`` runs the same contenders on a GPU (DNABERT-base, bf16).
Needs the demo corpus (``snakemake --cores 2 results/corpus/k6``) and ``accelerate``
(the Trainer's dependency). Usage::

    .venv/bin/python bench/bench_pretrain.py [--corpus results/corpus/k6] [--steps 30] [--rounds 2] [--threads 1]
                                             [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from machine import cpu_model  # noqa: E402 (bench/machine.py, beside this script)

from dnabert.lm import kmer  # noqa: E402
from dnabert.lm.models import ModelSettings, bert_config, new_model  # noqa: E402
from dnabert.lm.pretrain.pieces import PieceStore, split_pieces  # noqa: E402
from dnabert.lm.pretrain.pipeline import train  # noqa: E402
from dnabert.lm.pretrain.settings import MaskingSettings, OptimizerSettings, Outputs, PretrainSettings  # noqa: E402

log = logging.getLogger("bench")
MASK_RATE = 0.15
OURS = {  # name: (packing, prefetch)
    "ours_before": (False, 0),
    "ours_prefetch": (False, 2),
    "ours_packed": (True, 2),
}
TRAINERS = {"trainer": "random", "trainer_group_by_length": "group_by_length"}


# --------------------------------------------------------------------------- FLOPs


def training_flops_per_token(config, mean_context: float, vocab: int, mask_rate: float = MASK_RATE) -> float:
    """Model FLOPs to train on one token (forward + backward = 3 x forward)."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    encoder = layers * (4 * h * h + 2 * h * inter)  # QKV + output projections, feed-forward
    attention = layers * 2 * h * mean_context  # QK^T and AV, multiply-adds per token
    head = mask_rate * (h * h + h * vocab)  # transform + decoder at the masked positions
    return 6.0 * (encoder + attention + head)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n x n matrix product."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats + 1):
        _sync(device)
        start = time.perf_counter()
        inner = 10 if device.type == "cuda" else 1
        for _ in range(inner):
            a @ b
        _sync(device)
        best = max(best, inner * 2 * n**3 / (time.perf_counter() - start))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- the workload


@dataclass
class Workload:
    """What every contender trains on: model, optimizer, corpus, token budget, steps, device."""

    k: int
    model: ModelSettings
    optimizer: OptimizerSettings
    corpus: Path
    dev: list[str]
    batch: int  # sequences of up to 512 tokens per step (our padded-token budget)
    steps: int
    warmup: int
    device: str = "cpu"
    threads: int = 1
    precision: str = "fp32"
    log_every: int = 1  # steps per timed interval (GPU: >1, so the loop synchronises only at interval ends)
    seed: int = 1
    pieces: list[list[int]] = field(default_factory=list)  # the Trainer's dataset

    def settings(self, packing: bool, prefetch: int) -> PretrainSettings:
        return PretrainSettings(
            k=self.k, model=self.model, optimizer=self.optimizer, steps=self.steps,
            batch_tokens=self.batch * kmer.MAX_TOKENS, gradient_accumulation=1, log_every_steps=self.log_every,
            eval_every_steps=10**9, eval_pieces=16, checkpoint_every_steps=10**9, checkpoint_every_minutes=10**6,
            seed=self.seed, precision=self.precision, packing=packing, prefetch=prefetch,
            masking=MaskingSettings(rate=MASK_RATE, final_rate=None),
        )  # fmt: skip


def load_workload(corpus: Path, config: Path, **overrides) -> tuple[Workload, float]:
    """The workload from a config's ``pretrain`` section and a corpus, and the corpus's mean attention context."""
    section = yaml.safe_load(config.read_text())
    pretrain = section.get("pretrain", {})
    workload = Workload(
        k=int(section.get("kmer", 6)), model=ModelSettings(**pretrain.get("model", {})),
        optimizer=OptimizerSettings(**{**pretrain.get("optimizer", {}), "warmup_steps": 2}), corpus=corpus,
        dev=list(section.get("splits", {}).get("dev", [])), batch=8, steps=30, warmup=5,
    )  # fmt: skip
    workload = replace(workload, **overrides)
    store = PieceStore(corpus)
    train_ids, _, _ = split_pieces(store, workload.dev, 16, 1)
    rng = np.random.default_rng(0)
    chosen = rng.choice(train_ids, size=min(train_ids.size, workload.batch * workload.steps * 2), replace=False)
    workload.pieces = [store.reader[int(i)].astype(np.int64).tolist() for i in chosen]
    mean_context = float(np.sum(store.lengths[train_ids] ** 2) / np.sum(store.lengths[train_ids]))
    return workload, mean_context


def _rates(tokens: list[float], seconds: list[float]) -> dict:
    """Median of the per-interval rates (robust to other load on the machine) and the overall mean."""
    per_step = np.array(tokens) / np.array(seconds)
    return {"tokens_per_s": float(np.median(per_step)), "tokens_per_s_mean": sum(tokens) / sum(seconds),
            "tokens_per_s_best": float(per_step.max()), "tokens": sum(tokens), "seconds": sum(seconds)}  # fmt: skip


# --------------------------------------------------------------------------- contenders


def run_ours(w: Workload, packing: bool, prefetch: int) -> dict:
    """Our pipeline; the timed intervals of its training log (after the warm-up steps)."""
    with tempfile.TemporaryDirectory() as tmp:
        metrics = train(w.settings(packing, prefetch), w.corpus, Outputs.under(tmp), w.dev, device=w.device,
                        threads=w.threads, progress=False)  # fmt: skip
        rows = _intervals(Path(tmp) / "training_log.csv")
    timed = [row for row in rows if row["first_step"] > w.warmup]
    return {"tokens": [r["tokens"] for r in timed], "seconds": [r["seconds"] for r in timed],
            "padding_fraction": metrics["padding_fraction"], "eval_loss": metrics["eval"]["loss"]}  # fmt: skip


def _intervals(path: Path) -> list[dict]:
    """Tokens and seconds of each logged interval (first step of the interval, 1-based)."""
    with open(path) as handle:
        rows = [{key: float(value) if value else None for key, value in row.items()} for row in csv.DictReader(handle)]
    out, step, tokens, seconds = [], 0.0, 0.0, 0.0
    for row in rows:
        if row["train_loss"] is None:
            continue
        out.append({"first_step": step + 1, "tokens": row["tokens"] - tokens, "seconds": row["elapsed_s"] - seconds})
        step, tokens, seconds = row["step"], row["tokens"], row["elapsed_s"]
    return out


def run_trainer(w: Workload, strategy: str) -> dict:
    """transformers.Trainer + DataCollatorForLanguageModeling on the same pieces (its defaults, our precision)."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    device = torch.device(w.device)
    torch.set_num_threads(w.threads)
    collator = DataCollatorForLanguageModeling(kmer.build_hf_tokenizer(w.k), mlm=True, mlm_probability=MASK_RATE,
                                               pad_to_multiple_of=8)  # fmt: skip
    counts = {"tokens": [], "padded": []}

    def collate(examples):
        out = collator(examples)
        counts["tokens"].append(int(out["attention_mask"].sum()))
        counts["padded"].append(int(out["attention_mask"].numel()))
        return out

    class Timer(TrainerCallback):
        """Wall time at the end of every ``log_every``-th step (synchronised on CUDA)."""

        def __init__(self):
            self.marks: list[tuple[int, float]] = []

        def on_step_begin(self, args, state, control, **kwargs):
            if not self.marks:
                _sync(device)
                self.marks.append((0, time.perf_counter()))

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step % w.log_every == 0:
                _sync(device)
                self.marks.append((state.global_step, time.perf_counter()))

    timer = Timer()
    precision = {"bf16": w.precision == "bf16", "fp16": w.precision == "fp16"}
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=w.batch, max_steps=w.steps, learning_rate=w.optimizer.lr,
            adam_beta1=w.optimizer.betas[0], adam_beta2=w.optimizer.betas[1], adam_epsilon=w.optimizer.eps,
            weight_decay=w.optimizer.weight_decay, warmup_steps=w.optimizer.warmup_steps, lr_scheduler_type="linear",
            max_grad_norm=w.optimizer.max_grad_norm, logging_strategy="no", save_strategy="no", report_to=[],
            use_cpu=device.type == "cpu", dataloader_num_workers=0, seed=w.seed, disable_tqdm=True,
            train_sampling_strategy=strategy, **precision,
        )  # fmt: skip
        model = new_model(w.k, w.model, w.seed)
        dataset = [{"input_ids": ids} for ids in w.pieces]
        Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate, callbacks=[timer]).train()
    tokens, seconds = [], []
    for (start, t0), (end, t1) in zip(timer.marks, timer.marks[1:]):
        if start >= w.warmup:  # steps start+1 .. end; the collator ran before each of them
            tokens.append(sum(counts["tokens"][start:end]))
            seconds.append(t1 - t0)
    return {"tokens": tokens, "seconds": seconds,
            "padding_fraction": 1 - sum(counts["tokens"][: w.steps]) / sum(counts["padded"][: w.steps])}  # fmt: skip


def contenders(w: Workload, names: list[str] | None = None) -> dict:
    """name -> a function that runs it once."""
    runs = {name: (lambda p=packing, f=prefetch: run_ours(w, p, f)) for name, (packing, prefetch) in OURS.items()}
    runs |= {name: (lambda s=strategy: run_trainer(w, s)) for name, strategy in TRAINERS.items()}
    return {name: run for name, run in runs.items() if names is None or name in names}


def measure(w: Workload, names: list[str] | None, rounds: int, flops: float, peak: Callable[[], float]) -> tuple[dict, float]:
    """Every contender ``rounds`` times, interleaved; pooled rates, MFU and ratios to the Trainer and to before.

    ``peak()`` measures the matmul rate; it is taken before every round and the best is the MFU's
    denominator (on a shared machine a single measurement can fall in a busy moment). Returns the
    results and that rate.
    """
    runs = contenders(w, names)
    pooled: dict[str, dict] = {name: {"tokens": [], "seconds": []} for name in runs}
    best = 0.0
    for round_ in range(rounds):
        best = max(best, peak())
        for name, run in runs.items():
            print(f"round {round_ + 1}/{rounds}: {name} ...", file=sys.stderr, flush=True)
            result = run()
            pooled[name]["tokens"] += result.pop("tokens")
            pooled[name]["seconds"] += result.pop("seconds")
            pooled[name].update(result)
    results = {}
    for name, data in pooled.items():
        results[name] = {**_rates(data.pop("tokens"), data.pop("seconds")), **data}
        results[name]["mfu"] = results[name]["tokens_per_s"] * flops / best
    for name, result in results.items():
        for base in ("trainer", "ours_before"):
            if base in results:
                result[f"x_{base}"] = result["tokens_per_s"] / results[base]["tokens_per_s"]
    return results, best


def print_table(results: dict) -> None:
    print(f"{'contender':<26}{'tokens/s':>10}{'(mean)':>9}{'padding':>9}{'MFU':>8}{'x Trainer':>11}{'x before':>10}")
    for name, r in results.items():
        ratios = "".join(f"{r[key]:>{width}.2f}" if key in r else f"{'':>{width}}"
                         for key, width in (("x_trainer", 11), ("x_ours_before", 10)))  # fmt: skip
        print(f"{name:<26}{r['tokens_per_s']:>10.0f}{r['tokens_per_s_mean']:>9.0f}"
              f"{100 * r['padding_fraction']:>8.1f}%{100 * r['mfu']:>7.1f}%{ratios}")  # fmt: skip


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "results" / "corpus" / "k6")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml", help="model sizes from here")
    parser.add_argument("--steps", type=int, default=30, help="steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="steps of each run left out of the timing")
    parser.add_argument("--rounds", type=int, default=2, help="runs of every contender, interleaved")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (x 512 = our token budget)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=[*OURS, *TRAINERS], help="run only these contenders")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if not (args.corpus / "manifest.json").is_file():
        sys.exit(f"no corpus at {args.corpus}: build it with `snakemake --cores 2 results/corpus/k6`")
    torch.set_num_threads(args.threads)
    w, mean_context = load_workload(args.corpus, args.config, batch=args.batch, steps=args.steps, warmup=args.warmup,
                                    threads=args.threads)  # fmt: skip
    bert = bert_config(w.k, w.model)
    flops = training_flops_per_token(bert, mean_context, bert.vocab_size)
    results: dict = {
        "machine": {"cpu": cpu_model(), "threads": args.threads, "torch": torch.__version__},
        "model": {"layers": bert.num_hidden_layers, "hidden": bert.hidden_size, "heads": bert.num_attention_heads,
                  "intermediate": bert.intermediate_size, "vocab": bert.vocab_size,
                  "dropout": w.model.dropout, "attention_dropout": w.model.attention_dropout},
        "batch": {"sequences": args.batch, "padded_token_budget": args.batch * kmer.MAX_TOKENS},
        "steps": args.steps, "warmup_steps": args.warmup, "rounds": args.rounds,
        "model_gflop_per_token": flops / 1e9, "mean_context": mean_context,
    }  # fmt: skip
    results["contenders"], peak = measure(w, args.only, args.rounds, flops,
                                          lambda: matmul_peak(torch.device("cpu"), torch.float32, 2048))
    results["machine"]["fp32_matmul_gflops"] = peak / 1e9
    print(f"\nCPU {results['machine']['cpu']} ({args.threads} threads, measured fp32 matmul {peak / 1e9:.1f} GFLOP/s);"
          f" model {bert.num_hidden_layers}x{bert.hidden_size}, {args.batch} x 512 padded tokens per step, "
          f"{args.steps} steps x {args.rounds} rounds (first {args.warmup} of each untimed)")  # fmt: skip
    print_table(results["contenders"])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
