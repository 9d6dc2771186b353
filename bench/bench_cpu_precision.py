#!/usr/bin/env python
"""bf16 against fp32 fine-tuning on this CPU: wall time and best dev loss of the same runs.

``precision: auto`` trains in bf16 on a CPU with bfloat16 instructions (AVX512-BF16 or
AMX). This bench runs the workflow's own fine-tuning (:func:`dnabert.lm.finetune.finetune`,
the config's recipe for each task, one thread) twice per task, model and learning rate,
fp32 then bf16 back to back, so both see the same machine load, and prints their wall
times, the ratio and the best dev loss of each (test is not looked at). Run from the
repository root after ``make demo`` (it reads ``results/datasets`` and ``results/pretrain/model``)::

    .venv/bin/python bench/bench_cpu_precision.py [--results results] [--tasks ctcf splice]
        [--inits pretrained scratch] [--lrs 1e-3] [--seed 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from dnabert.config.finetune import scratch_settings, task_settings  # noqa: E402
from dnabert.config.validation import validate_config  # noqa: E402
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune  # noqa: E402
from dnabert.lm.training import cpu_has_native_bf16  # noqa: E402


def load_config(path: Path) -> dict:
    """The config as the workflow sees it: validated, defaults filled in."""
    config = yaml.safe_load(path.read_text())
    validate_config(config, ROOT / "config" / "schema" / "config.schema.yaml", [str(path)])
    return config


def one_run(config: dict, results: Path, task: str, init: str, lr: float, seed: int, precision: str,
            scratch: Path) -> dict:
    """One fine-tuning run; its wall seconds and best dev loss."""
    values = (scratch_settings if init == "scratch" else task_settings)(config, task)
    settings = FinetuneSettings.from_config({**values, "lr": lr, "precision": precision})
    data = {split: results / "datasets" / task / f"{split}.tsv.gz" for split in ("train", "dev", "test")}
    model_dir = None if init == "scratch" else results / "pretrain" / "model"
    started = time.perf_counter()
    out = finetune(settings, data, RunOutputs.under(scratch / f"{task}_{init}_{lr:g}_{precision}"),
                   k=config["kmer"], seed=seed, model_dir=model_dir, task=task,
                   device="cpu", threads=1, progress=False)  # fmt: skip
    dev = out["best"]["dev"]
    return {"seconds": round(time.perf_counter() - started, 1), "dev_loss": dev["loss"], "dev_mcc": dev["mcc"],
            "precision": out["training"]["precision"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="a finished demo's results/")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--tasks", nargs="+", default=["ctcf", "rest", "prom300", "splice"])
    parser.add_argument("--inits", nargs="+", choices=("pretrained", "scratch"), default=["pretrained", "scratch"])
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not cpu_has_native_bf16():
        print("note: this CPU has no bfloat16 instructions; bf16 is emulated here and auto trains in fp32",
              file=sys.stderr)
    config = load_config(args.config)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cpu_precision_") as tmp:
        for task in args.tasks:
            for init in args.inits:
                for lr in args.lrs:
                    runs = {p: one_run(config, args.results, task, init, lr, args.seed, p, Path(tmp))
                            for p in ("fp32", "bf16")}  # fmt: skip
                    row = {"task": task, "init": init, "lr": lr}
                    for p, run in runs.items():
                        row.update({f"{p}_{key}": value for key, value in run.items()})
                    rows.append(row)
                    print(f"done {task} {init} lr {lr:g}: {rows[-1]}", file=sys.stderr, flush=True)
    print("| task | init | lr | fp32 s | bf16 s | fp32/bf16 | fp32 best dev loss | bf16 best dev loss |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['task']} | {r['init']} | {r['lr']:g} | {r['fp32_seconds']:.1f} | {r['bf16_seconds']:.1f} | "
              f"{r['fp32_seconds'] / r['bf16_seconds']:.2f} | {r['fp32_dev_loss']:.4f} | {r['bf16_dev_loss']:.4f} |")
    total = sum(r["fp32_seconds"] for r in rows) / sum(r["bf16_seconds"] for r in rows)
    print(f"all runs: fp32/bf16 wall time {total:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
