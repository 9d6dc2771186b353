#!/usr/bin/env python
"""LoRA against full fine-tuning on CPU: trainable parameters, step time, peak memory, and test MCC.

Run from the repository root, on a finished demo run (its pretrained model and a task's dataset)::

    .venv/bin/python bench/bench_lora.py --model results/pretrain/model --data results/datasets/ctcf \\
        [--seeds 1 2 3] [--lrs 1e-3 3e-3] [--sizes demo base] [--threads 1] [--out FILE.json]

Two parts, both through the workflow's own fine-tuning code (:mod:`dnabert.lm.finetune`):

* **cost** per model size and mode (full; LoRA r=8, alpha 32, dropout 0.05 on query and
  value, pooler and head trained): trainable parameters, the median time of an optimizer
  step (forward, backward, clipping, AdamW) on batches of 32 training sequences of the task
  after warm-up steps, and the peak resident memory of the training steps above the memory
  before them (gradients, optimizer states, activations), each size and mode in a fresh
  process. ``demo`` is the ``--model`` encoder; ``base`` a randomly initialised DNABERT-base
  (12 x 768) on the same batches.
* **quality**: full runs of ``finetune()`` on the task (DNABERT's recipe as the demo sets it:
  5 epochs, batch 32, dev every epoch, patience 3, selection on dev loss) for every seed,
  each mode with its learning rate chosen from ``--lrs`` by the mean best dev loss over the
  seeds (test is never looked at for the choice); test MCC and AUROC, mean ± sd over seeds.

Prints the tables and the LoRA/full ratios; optionally writes everything as JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch

from dnabert.lm.evaluation import SPLIT_NAMES
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune, load_data
from dnabert.lm.finetune.data import training_batches
from dnabert.lm.finetune.loop import TrainState, train_step
from dnabert.lm.finetune.model import trainable_parameters
from dnabert.lm.finetune.run import build_training, setup_device
from dnabert.lm.models import count_parameters

LORA = {"r": 8, "alpha": 32, "dropout": 0.05, "target_modules": ["query", "value"]}
RECIPE = {"epochs": 5, "batch_size": 32, "warmup": 0.1, "patience": 3, "select_on": "loss"}
BASE = {"layers": 12, "hidden": 768, "heads": 12, "intermediate": 3072, "attention_dropout": 0.1}


def settings_for(size: str, mode: str, lr: float, model: Path | None) -> tuple[FinetuneSettings, Path | None]:
    values: dict = {**RECIPE, "lr": lr, "lora": LORA if mode == "lora" else None}
    if size == "base" or model is None:
        values |= {"init": "scratch", "scratch_model": BASE if size == "base" else {"layers": 2, "hidden": 128,
                                                                                    "heads": 4, "intermediate": 512}}
        return FinetuneSettings.from_config(values), None
    return FinetuneSettings.from_config(values | {"init": "pretrained"}), model


# --------------------------------------------------------------------------- cost (one fresh process each)


def _cost(size: str, mode: str, args: argparse.Namespace, queue: multiprocessing.Queue) -> None:
    torch.set_num_threads(args.threads)
    settings, model_dir = settings_for(size, mode, 1e-3, args.model)
    data_files = {name: args.data / f"{name}.tsv.gz" for name in SPLIT_NAMES}
    data = load_data(data_files, args.kmer, settings.overflow)
    where = setup_device("cpu", args.threads, settings.precision)
    run = build_training(settings, data, where, task=args.data.name, k=args.kmer, seed=1, model_dir=model_dir)
    gc.collect()
    _reset_peak_rss()
    before = psutil.Process().memory_info().rss
    state, batches, times = TrainState(), training_batches(data, settings.batch_size, 1), []
    run.model.train()
    for i in range(args.warmup_steps + args.steps):
        tick = time.perf_counter()
        train_step(run, state, next(batches))
        if i >= args.warmup_steps:
            times.append(time.perf_counter() - tick)
    peak = _peak_rss()
    queue.put({"size": size, "mode": mode, "parameters": count_parameters(run.model)["total"],
               "trainable": trainable_parameters(run.model), "step_ms": 1000 * statistics.median(times),
               "rss_before_mb": before / 2**20, "peak_rss_mb": peak / 2**20,
               "training_memory_mb": (peak - before) / 2**20})  # fmt: skip


def _reset_peak_rss() -> None:
    """Restart the kernel's high-water mark of this process's resident memory (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss() -> int:
    """Peak resident memory since :func:`_reset_peak_rss` (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def cost(args: argparse.Namespace) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    rows = []
    for size in args.sizes:
        for mode in ("full", "lora"):
            queue = context.Queue()
            process = context.Process(target=_cost, args=(size, mode, args, queue))
            process.start()
            rows.append(queue.get())
            process.join()
            print(f"cost {size} {mode}: {rows[-1]}", file=sys.stderr, flush=True)
    return rows


# --------------------------------------------------------------------------- quality


def quality(args: argparse.Namespace) -> dict:
    data = {name: args.data / f"{name}.tsv.gz" for name in SPLIT_NAMES}
    runs: dict = {}
    with tempfile.TemporaryDirectory() as scratch:
        for mode in ("full", "lora"):
            for lr in args.lrs:
                settings, model_dir = settings_for("demo", mode, lr, args.model)
                for seed in args.seeds:
                    out = Path(scratch) / f"{mode}_{lr}_{seed}"
                    result = finetune(settings, data, RunOutputs.under(out), k=args.kmer, seed=seed,
                                      model_dir=model_dir, task=args.data.name, device="cpu", threads=args.threads,
                                      progress=False)  # fmt: skip
                    runs[(mode, lr, seed)] = result
                    print(f"quality {mode} lr {lr} seed {seed}: dev loss {result['best']['dev']['loss']:.4f}, "
                          f"test MCC {result['test']['mcc']:.3f}", file=sys.stderr, flush=True)  # fmt: skip
    summary = {}
    for mode in ("full", "lora"):
        dev_loss = {lr: statistics.mean(runs[(mode, lr, s)]["best"]["dev"]["loss"] for s in args.seeds)
                    for lr in args.lrs}  # fmt: skip
        chosen = min(dev_loss, key=dev_loss.get)
        picked = [runs[(mode, chosen, s)] for s in args.seeds]
        summary[mode] = {
            "lr": chosen,
            "dev_loss_by_lr": dev_loss,
            "test_mcc": [r["test"]["mcc"] for r in picked],
            "test_auroc": [r["test"]["auroc"] for r in picked],
            "steps": [r["training"]["steps"] for r in picked],
            "trainable": picked[0]["training"]["trainable_parameters"],
        }
    return summary


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def report(costs: list[dict], scores: dict | None, args: argparse.Namespace) -> None:
    print(f"\n{platform.processor() or platform.machine()}, {args.threads} torch thread(s), task {args.data}")
    print("| size | mode | model parameters | trainable | step (ms) | training memory (MB) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for row in costs:  # the model's size is the full row's (the exported, merged model is the same size)
        size = next(r["parameters"] for r in costs if r["size"] == row["size"] and r["mode"] == "full")
        print(f"| {row['size']} | {row['mode']} | {size:,} | {row['trainable']:,} "
              f"({100 * row['trainable'] / size:.2f} %) | {row['step_ms']:.0f} | "
              f"{row['training_memory_mb']:.0f} | {row['peak_rss_mb']:.0f} |")  # fmt: skip
    for size in dict.fromkeys(row["size"] for row in costs):
        full, lora = (next(r for r in costs if r["size"] == size and r["mode"] == m) for m in ("full", "lora"))
        print(f"{size}: LoRA/full trainable {lora['trainable'] / full['trainable']:.4f}, step time "
              f"{lora['step_ms'] / full['step_ms']:.2f}, training memory "
              f"{lora['training_memory_mb'] / max(full['training_memory_mb'], 1e-9):.2f}")  # fmt: skip
    if scores:
        print("\n| mode | lr (chosen on dev) | mean best dev loss by lr | test MCC | test AUROC | steps |")
        print("|---|---|---|---|---|---|")
        for mode, row in scores.items():
            losses = ", ".join(f"{lr:g}: {loss:.4f}" for lr, loss in row["dev_loss_by_lr"].items())
            print(f"| {mode} | {row['lr']:g} | {losses} | {_mean_sd(row['test_mcc'])} | "
                  f"{_mean_sd(row['test_auroc'])} | {row['steps']} |")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("results/pretrain/model"),
                        help="pretrained encoder directory (the demo's results/pretrain/model)")
    parser.add_argument("--data", type=Path, default=Path("results/datasets/ctcf"), help="task dataset folder")
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3], help="learning-rate grid (dev)")
    parser.add_argument("--sizes", nargs="+", choices=("demo", "base"), default=["demo", "base"])
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per size and mode")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-quality", action="store_true", help="only the cost table")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    torch.set_num_threads(args.threads)
    costs = cost(args)
    scores = None if args.skip_quality else quality(args)
    report(costs, scores, args)
    if args.out:
        serialisable = {mode: {**row, "dev_loss_by_lr": {str(k): v for k, v in row["dev_loss_by_lr"].items()}}
                        for mode, row in (scores or {}).items()}  # fmt: skip
        args.out.write_text(json.dumps({"cost": costs, "quality": serialisable, "threads": args.threads,
                                        "data": str(args.data), "model": str(args.model)}, indent=2) + "\n")
