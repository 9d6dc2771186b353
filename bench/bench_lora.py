#!/usr/bin/env python
"""LoRA against full fine-tuning on CPU: trainable parameters, step time, peak memory, and test MCC.

Run from the repository root, on a finished demo run (its pretrained model and a task's dataset)::

    .venv/bin/python bench/bench_lora.py --model results/pretrain/model --data results/datasets/ctcf \\
        [--seeds 1 2 3] [--full-lrs 1e-3] [--lora-lrs 1e-3 3e-3 1e-2] [--sizes demo base] [--threads 1] \\
        [--skip-cost | --skip-quality] [--out FILE.json]

Two parts, both through the workflow's own fine-tuning code (:mod:`dnabert.lm.finetune`):

* **cost** per model size and mode (full; LoRA r=8, alpha 32, dropout 0.05 on query and
  value, pooler and head trained): trainable parameters, the median CPU time (and wall time)
  of an optimizer step (forward, backward, clipping, AdamW) on batches of 32 training
  sequences of the task after warm-up steps (CPU time, the process's own, is what to compare
  on a machine shared with other jobs), and the peak resident memory of the training steps above the memory
  before them (gradients, optimizer states, activations), each size and mode in a fresh
  process. ``demo`` is the ``--model`` encoder; ``base`` a randomly initialised DNABERT-base
  (12 x 768) on the same batches.
* **quality**: runs of ``finetune()`` on the task (the demo's recipe: 5 epochs, batch 32, dev
  every epoch, patience 3, selection on dev loss) for every seed, each mode at its learning
  rate chosen on dev as the workflow chooses it (:mod:`dnabert.lm.lr_search`: the first seed
  tries every value of the mode's grid, the best dev loss among runs that do not predict one
  class wins, later seeds reuse it; test is never looked at); test MCC and AUROC, mean ± sd.

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
from dnabert.lm.lr_search import choose
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
    state, batches, wall, cpu = TrainState(), training_batches(data, settings.batch_size, 1), [], []
    run.model.train()
    for i in range(args.warmup_steps + args.steps):
        tick, tock = time.perf_counter(), time.process_time()
        train_step(run, state, next(batches))
        if i >= args.warmup_steps:
            wall.append(time.perf_counter() - tick)
            cpu.append(time.process_time() - tock)
    peak = _peak_rss()
    queue.put({"size": size, "mode": mode, "parameters": count_parameters(run.model)["total"],
               "trainable": trainable_parameters(run.model), "step_cpu_ms": 1000 * statistics.median(cpu),
               "step_wall_ms": 1000 * statistics.median(wall),
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
    summary = {}
    with tempfile.TemporaryDirectory() as scratch:

        def run(mode: str, lr: float, seed: int) -> dict:
            settings, model_dir = settings_for("demo", mode, lr, args.model)
            result = finetune(settings, data, RunOutputs.under(Path(scratch) / f"{mode}_{lr:g}_{seed}"), k=args.kmer,
                              seed=seed, model_dir=model_dir, task=args.data.name, device="cpu",
                              threads=args.threads, progress=False)  # fmt: skip
            print(f"quality {mode} lr {lr:g} seed {seed}: dev loss {result['best']['dev']['loss']:.4f}, "
                  f"test MCC {result['test']['mcc']:.3f}", file=sys.stderr, flush=True)  # fmt: skip
            return result

        for mode, grid in (("full", args.full_lrs), ("lora", args.lora_lrs)):
            if mode not in args.modes:
                continue
            first, *later = args.seeds
            tried = {lr: run(mode, lr, first) for lr in grid}
            chosen = choose({lr: result["best"]["dev"] for lr, result in tried.items()}, "loss")
            picked = [tried[chosen]] + [run(mode, chosen, seed) for seed in later]
            summary[mode] = {
                "lr": chosen,
                "dev_loss_by_lr": {lr: result["best"]["dev"]["loss"] for lr, result in tried.items()},
                "test_mcc": [r["test"]["mcc"] for r in picked],
                "test_auroc": [r["test"]["auroc"] for r in picked],
                "steps": [r["training"]["steps"] for r in picked],
                "trainable": picked[0]["training"]["trainable_parameters"],
                "runs": [{"lr": lr, "seed": seed, "dev_loss": r["best"]["dev"]["loss"], "test_mcc": r["test"]["mcc"],
                          "test_auroc": r["test"]["auroc"], "steps": r["training"]["steps"]}
                         for (lr, seed), r in [((lr, first), tried[lr]) for lr in grid]
                         + [((chosen, seed), r) for seed, r in zip(later, picked[1:])]],
            }
    return summary


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def report(costs: list[dict], scores: dict | None, args: argparse.Namespace) -> None:
    print(f"\n{platform.processor() or platform.machine()}, {args.threads} torch thread(s), task {args.data}")
    if costs:
        _cost_table(costs)
    if scores:
        print("\n| mode | lr (chosen on dev) | best dev loss by lr (first seed) | test MCC | test AUROC | steps |")
        print("|---|---|---|---|---|---|")
        for mode, row in scores.items():
            losses = ", ".join(f"{lr:g}: {loss:.4f}" for lr, loss in row["dev_loss_by_lr"].items())
            print(f"| {mode} | {row['lr']:g} | {losses} | {_mean_sd(row['test_mcc'])} | "
                  f"{_mean_sd(row['test_auroc'])} | {row['steps']} |")  # fmt: skip


def _cost_table(costs: list[dict]) -> None:
    print("| size | mode | model parameters | trainable | step CPU (ms) | step wall (ms) | training memory (MB) "
          "| peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in costs:  # the model's size is the full row's (the exported, merged model is the same size)
        size = next(r["parameters"] for r in costs if r["size"] == row["size"] and r["mode"] == "full")
        print(f"| {row['size']} | {row['mode']} | {size:,} | {row['trainable']:,} "
              f"({100 * row['trainable'] / size:.2f} %) | {row['step_cpu_ms']:.0f} | {row['step_wall_ms']:.0f} | "
              f"{row['training_memory_mb']:.0f} | {row['peak_rss_mb']:.0f} |")  # fmt: skip
    for size in dict.fromkeys(row["size"] for row in costs):
        full, lora = (next(r for r in costs if r["size"] == size and r["mode"] == m) for m in ("full", "lora"))
        print(f"{size}: LoRA/full trainable {lora['trainable'] / full['trainable']:.4f}, step CPU time "
              f"{lora['step_cpu_ms'] / full['step_cpu_ms']:.2f}, training memory "
              f"{lora['training_memory_mb'] / max(full['training_memory_mb'], 1e-9):.2f}")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("results/pretrain/model"),
                        help="pretrained encoder directory (the demo's results/pretrain/model)")
    parser.add_argument("--data", type=Path, default=Path("results/datasets/ctcf"), help="task dataset folder")
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--full-lrs", type=float, nargs="+", default=[1e-3],
                        help="full fine-tuning's learning-rate grid (default: the demo's finetune.lr)")
    parser.add_argument("--lora-lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2],
                        help="LoRA's learning-rate grid (adapters usually want more)")
    parser.add_argument("--sizes", nargs="+", choices=("demo", "base"), default=["demo", "base"])
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps per size and mode")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-quality", action="store_true", help="only the cost table")
    parser.add_argument("--skip-cost", action="store_true", help="only the quality table")
    parser.add_argument("--modes", nargs="+", choices=("full", "lora"), default=["full", "lora"],
                        help="quality runs of these modes only (runs are deterministic: parts can run in parallel)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    torch.set_num_threads(args.threads)
    costs = [] if args.skip_cost else cost(args)
    scores = None if args.skip_quality else quality(args)
    report(costs, scores, args)
    if args.out:
        serialisable = {mode: {**row, "dev_loss_by_lr": {str(k): v for k, v in row["dev_loss_by_lr"].items()}}
                        for mode, row in (scores or {}).items()}  # fmt: skip
        args.out.write_text(json.dumps({"cost": costs, "quality": serialisable, "threads": args.threads,
                                        "data": str(args.data), "model": str(args.model)}, indent=2) + "\n")
