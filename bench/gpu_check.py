#!/usr/bin/env python
"""One GPU check of the workflow's CUDA paths, in at most 8 minutes on one H100/H200: one table and a JSON file.

Parts, each in its own subprocess under a time budget, so that a failure or a hang in
one still leaves the others' figures (a part writes its results as it goes, so one that
runs out of time reports what it finished):

* ``env``: GPU, compute capability, native bf16, torch/CUDA versions, flash-attn, and the
  measured dense matmul rates (bf16 and TF32, 8192^3) that MFU is taken against;
* ``tests``: ``pytest -m gpu`` (tests/test_gpu.py: bf16/fp16 steps, SDPA and packed
  attention on CUDA, NCCL DDP with one process, checkpoint/resume on the GPU, pinned prefetching);
* ``pretrain``: DNABERT-base (12 x 768) MLM pretraining on a random-genome corpus, our loop
  (``dnabert.lm.pretrain.pipeline.train``: padded and packed, batches prefetched, and as
  before: padded without prefetching) against ``transformers.Trainer`` +
  ``DataCollatorForLanguageModeling`` on the same pieces and token budget, auto precision
  (bf16 on H100): real tokens/s and MFU (model FLOPs, the same count for all, over the
  measured bf16 matmul rate); the packed-vs-padded and ours-vs-Trainer ratios;
* ``parity``: the same run in fp32 and in bf16 autocast from the same seed (same batches and
  masks): training and held-out loss side by side;
* ``finetune``: DNABERT-base fine-tuning and inference sequences/s (bench/bench_finetune.py).

``--device cpu --quick`` runs the same parts on the CPU with a tiny model and a few steps
(the CUDA tests skip), to prove the script end to end. Usage::

    .venv/bin/python bench/gpu_check.py [--json gpu_check.json]            # on the GPU machine
    .venv/bin/python bench/gpu_check.py --device cpu --quick --json /tmp/gpu_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PARTS = ("env", "tests", "pretrain", "parity", "finetune")
BUDGETS = {"env": 45, "tests": 150, "pretrain": 150, "parity": 75, "finetune": 60}  # seconds, GPU run
TOTAL_BUDGET = 470.0  # seconds for everything (the target is 8 minutes)
RESERVE = 5.0  # seconds kept back for the table


# --------------------------------------------------------------------------- settings of a run


def run_plan(device: str, quick: bool) -> dict[str, Any]:
    """Model, batch and step counts: DNABERT-base on a GPU, a tiny model for --quick."""
    if quick:
        return {"model": {"layers": 2, "hidden": 128, "heads": 4, "intermediate": 512}, "batch": 8, "steps": 8,
                "warmup": 2, "log_every": 1, "genome_bp": 1_500_000, "finetune_size": "tiny", "matmul": 1024,
                "finetune_steps": 6, "infer_sequences": 256}  # fmt: skip
    return {"model": {}, "batch": 64, "steps": 40, "warmup": 10, "log_every": 5, "genome_bp": 16_000_000,
            "finetune_size": "base", "matmul": 8192, "finetune_steps": 30, "infer_sequences": 4096}  # fmt: skip


def write_json(path: Path, data: dict) -> None:
    """Atomically (a part killed mid-write leaves the previous version)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- the parts (child processes)


def part_env(args: argparse.Namespace, plan: dict, out: Path) -> None:
    import torch

    sys.path.insert(0, str(BENCH))
    from bench_pretrain import matmul_peak

    from dnabert.lm.packing import flash_available

    device = torch.device(args.device)
    result: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
                              "flash_attn": flash_available()}  # fmt: skip
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        result |= {"name": props.name, "capability": f"{props.major}.{props.minor}",
                   "memory_gib": round(props.total_memory / 2**30, 1),
                   "bf16_native": torch.cuda.is_bf16_supported(including_emulation=False)}  # fmt: skip
        torch.backends.cuda.matmul.allow_tf32 = True
    else:
        result |= {"name": "cpu", "bf16_native": True}
    write_json(out, result)
    result["bf16_matmul_tflops"] = matmul_peak(device, torch.bfloat16, plan["matmul"]) / 1e12
    write_json(out, result)
    result["fp32_matmul_tflops"] = matmul_peak(device, torch.float32, plan["matmul"]) / 1e12  # TF32 on CUDA
    write_json(out, result)


def _workload(args: argparse.Namespace, plan: dict, precision: str, **overrides):
    sys.path.insert(0, str(BENCH))
    from bench_pretrain import load_workload

    from dnabert.lm.models import ModelSettings

    values = {"model": ModelSettings(**plan["model"]), "batch": plan["batch"], "steps": plan["steps"],
              "warmup": plan["warmup"], "device": args.device, "threads": args.threads, "precision": precision,
              "log_every": plan["log_every"], "dev": [], **overrides}  # fmt: skip
    return load_workload(args.corpus, REPO / "config" / "config.yaml", **values)


def part_pretrain(args: argparse.Namespace, plan: dict, out: Path) -> None:
    import torch

    from bench_pretrain import OURS, TRAINERS, _rates, contenders, matmul_peak, training_flops_per_token

    from dnabert.lm.models import bert_config
    from dnabert.lm.training import precision_for

    device = torch.device(args.device)
    precision = precision_for(device, "auto").name if device.type == "cuda" else "fp32"
    workload, context = _workload(args, plan, precision)
    config = bert_config(workload.k, workload.model)
    flops = training_flops_per_token(config, context, config.vocab_size)
    peak = matmul_peak(device, torch.bfloat16 if precision != "fp32" else torch.float32, plan["matmul"])
    result: dict[str, Any] = {"precision": precision, "batch_sequences": workload.batch, "steps": workload.steps,
                              "model": {"layers": config.num_hidden_layers, "hidden": config.hidden_size},
                              "matmul_tflops": peak / 1e12, "model_gflop_per_token": flops / 1e9, "contenders": {}}
    order = ["ours_prefetch", "ours_packed", "trainer", "ours_before"]
    runs = contenders(workload, order)
    assert set(order) <= set(OURS) | set(TRAINERS)
    for name in order:
        started = time.perf_counter()
        raw = runs[name]()
        rates = _rates(raw.pop("tokens"), raw.pop("seconds"))
        result["contenders"][name] = {**rates, **raw, "mfu": rates["tokens_per_s_mean"] * flops / peak,
                                      "wall_s": round(time.perf_counter() - started, 1)}  # fmt: skip
        write_json(out, result)


def part_parity(args: argparse.Namespace, plan: dict, out: Path) -> None:
    """fp32 and bf16 from the same seed on the same batches and masks: loss curves and held-out losses."""
    result: dict[str, Any] = {"runs": {}}
    for precision in ("fp32", "bf16"):
        workload, _ = _workload(args, plan, precision, warmup=0)
        result["runs"][precision] = _losses(workload)
        write_json(out, result)
    fp32, bf16 = result["runs"]["fp32"], result["runs"]["bf16"]
    diffs = [abs(b - a) / a for a, b in zip(fp32["train_loss"], bf16["train_loss"])]
    result |= {"max_train_loss_rel_diff": max(diffs),
               "eval_loss_rel_diff": abs(bf16["eval_loss"] - fp32["eval_loss"]) / fp32["eval_loss"]}  # fmt: skip
    write_json(out, result)


def _losses(workload) -> dict[str, Any]:
    """One run of our loop: its training-loss curve (every logged interval) and held-out loss."""
    import csv

    from dnabert.lm.pretrain.pipeline import train
    from dnabert.lm.pretrain.settings import Outputs

    with tempfile.TemporaryDirectory() as tmp:
        metrics = train(workload.settings(False, 2), workload.corpus, Outputs.under(tmp), [], device=workload.device,
                        threads=workload.threads, progress=False)  # fmt: skip
        with open(Path(tmp) / "training_log.csv") as handle:
            curve = [float(row["train_loss"]) for row in csv.DictReader(handle) if row["train_loss"]]
    return {"train_loss": curve, "eval_loss": metrics["eval"]["loss"], "precision": metrics["precision"]}


def part_finetune(args: argparse.Namespace, plan: dict, out: Path) -> None:
    import torch

    from bench_finetune import bench_size

    torch.set_num_threads(args.threads)
    options = argparse.Namespace(k=6, length=101, train_steps=plan["finetune_steps"], warmup_steps=3,
                                 infer_sequences=plan["infer_sequences"])  # fmt: skip
    write_json(out, bench_size(plan["finetune_size"], options, torch.device(args.device)))


CHILD_PARTS = {"env": part_env, "pretrain": part_pretrain, "parity": part_parity, "finetune": part_finetune}


# --------------------------------------------------------------------------- the parent


def build_corpus(directory: Path, genome_bp: int) -> Path:
    """A random-genome k=6 corpus (two chromosomes) for the throughput parts."""
    import numpy as np
    import pysam

    from dnabert.lm.corpus import CorpusSettings, build_corpus as build

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    fasta = directory / "genome.fa"
    with open(fasta, "w") as handle:
        for name, size in (("chrA", genome_bp * 2 // 3), ("chrB", genome_bp // 3)):
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size)].tobytes().decode()
            handle.write(f">{name}\n" + "\n".join(seq[i : i + 60] for i in range(0, size, 60)) + "\n")
    pysam.tabix_compress(str(fasta), str(fasta) + ".gz", force=True)
    pysam.faidx(str(fasta) + ".gz")
    build(Path(str(fasta) + ".gz"), directory / "k6", CorpusSettings(k=6, seed=3), progress=False)
    return directory / "k6"


def run_tests(args: argparse.Namespace, work: Path, budget: float) -> dict[str, Any]:
    """``pytest -m gpu`` with a JUnit report: counts and the failures' names."""
    junit = work / "pytest.xml"
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-n", "0", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", str(REPO / "tests")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow")}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=budget)
    (work / "tests.log").write_text(result.stdout + result.stderr)
    if not junit.exists():
        raise RuntimeError(f"pytest wrote no report (exit {result.returncode}): {result.stdout[-500:]}")
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]  # fmt: skip
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return {**counts, "failed": failed, "exit_status": result.returncode}


def run_part(name: str, args: argparse.Namespace, work: Path, budget: float) -> dict[str, Any]:
    """One part under its budget: status ok / failed / timeout / skipped, seconds, results (even partial)."""
    if budget <= 1:
        return {"status": "skipped", "seconds": 0.0, "results": {}, "note": "no time left"}
    started = time.perf_counter()
    out = work / f"{name}.json"
    try:
        if name == "tests":
            results = run_tests(args, work, budget)
            status = "ok" if not results["failed"] and results["exit_status"] in (0, 5) else "failed"
            return {"status": status, "seconds": round(time.perf_counter() - started, 1), "results": results}
        command = [sys.executable, __file__, "--part", name, "--part-out", str(out), "--device", args.device,
                   "--corpus", str(args.corpus), "--threads", str(args.threads), *(["--quick"] if args.quick else [])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "workflow"), str(BENCH)])}
        with open(work / f"{name}.log", "w") as log:
            code = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=budget).returncode
        status, note = ("ok", "") if code == 0 else ("failed", _last_line(work / f"{name}.log"))
    except subprocess.TimeoutExpired:
        status, note = "timeout", f"over its {budget:.0f} s budget"
    except Exception as error:  # noqa: BLE001 (a part's failure must not stop the others)
        status, note = "failed", f"{type(error).__name__}: {error}"
    results = json.loads(out.read_text()) if out.exists() else {}
    return {"status": status, "seconds": round(time.perf_counter() - started, 1), "results": results, "note": note}


def _last_line(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return lines[-1][-200:] if lines else ""


# --------------------------------------------------------------------------- the table


def summary_rows(parts: dict[str, dict]) -> list[tuple[str, str]]:
    """(check, figure) rows of the one table."""
    rows: list[tuple[str, str]] = []
    env = parts.get("env", {}).get("results", {})
    if env:
        rows.append(("device", f"{env.get('name')} (sm {env.get('capability', '-')}, bf16 native "
                               f"{env.get('bf16_native')}, flash-attn {env.get('flash_attn')}), torch {env.get('torch')}, "
                               f"CUDA {env.get('cuda')}"))  # fmt: skip
        if "bf16_matmul_tflops" in env:
            rows.append(("dense matmul, measured", f"bf16 {env['bf16_matmul_tflops']:.3g} TFLOP/s, fp32/TF32 "
                                                   f"{env.get('fp32_matmul_tflops', float('nan')):.3g} TFLOP/s"))
    tests = parts.get("tests", {}).get("results", {})
    if tests:
        failed = f"; failed: {', '.join(tests['failed'])}" if tests["failed"] else ""
        rows.append(("pytest -m gpu", f"{tests['passed']} passed, {tests['failures'] + tests['errors']} failed, "
                                      f"{tests['skipped']} skipped{failed}"))  # fmt: skip
    rows += _pretrain_rows(parts.get("pretrain", {}).get("results", {}))
    parity = parts.get("parity", {}).get("results", {})
    runs = parity.get("runs", {})
    if "fp32" in runs and "bf16" in runs and "eval_loss_rel_diff" in parity:
        rows.append(("bf16 vs fp32 (same batches)",
                     f"held-out loss {runs['bf16']['eval_loss']:.4f} vs {runs['fp32']['eval_loss']:.4f} "
                     f"({100 * parity['eval_loss_rel_diff']:.3f} %); training loss max diff "
                     f"{100 * parity['max_train_loss_rel_diff']:.3f} %"))  # fmt: skip
    fine = parts.get("finetune", {}).get("results", {})
    if fine:
        rows.append((f"fine-tuning ({fine['size']}, {fine['precision']})", f"{fine['finetune_seqs_per_s']:,.0f} seq/s"))
        rows.append((f"inference ({fine['size']}, {fine['precision']})", f"{fine['inference_seqs_per_s']:,.0f} seq/s"))
    return rows


def _pretrain_rows(pretrain: dict) -> list[tuple[str, str]]:
    rows = []
    found = pretrain.get("contenders", {})
    labels = {"ours_prefetch": "ours, padded, prefetched", "ours_packed": "ours, packed, prefetched",
              "trainer": "transformers.Trainer + collator", "ours_before": "ours, padded, built in the step"}
    model = pretrain.get("model", {})
    for name, label in labels.items():
        if name in found:
            r = found[name]
            rows.append((f"pretrain {model.get('layers')}x{model.get('hidden')} {pretrain['precision']}: {label}",
                         f"{r['tokens_per_s_mean']:,.0f} tokens/s, MFU {100 * r['mfu']:.1f} %, "
                         f"padding {100 * r['padding_fraction']:.1f} %"))  # fmt: skip
    rate = {name: found[name]["tokens_per_s_mean"] for name in found}
    for a, b, what in (("ours_packed", "ours_prefetch", "packed / padded"), ("ours_prefetch", "ours_before",
                       "prefetched / built in the step"), ("ours_prefetch", "trainer", "ours (padded) / Trainer"),
                       ("ours_packed", "trainer", "ours (packed) / Trainer")):  # fmt: skip
        if a in rate and b in rate:
            rows.append((f"speed-up {what}", f"{rate[a] / rate[b]:.2f}x"))
    return rows


def print_table(parts: dict[str, dict], total: float) -> None:
    width = 58
    print(f"\n{'part':<10}{'status':<9}{'seconds':>8}  note")
    for name, part in parts.items():
        print(f"{name:<10}{part['status']:<9}{part['seconds']:>8.1f}  {part.get('note', '')}")
    print(f"\n{'check':<{width}}result")
    for check, figure in summary_rows(parts):
        print(f"{check:<{width}}{figure}")
    print(f"\ntotal {total:.0f} s")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/gpu_check.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])  # fmt: skip
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="a tiny model and a few steps (proves the script)")
    parser.add_argument("--json", type=Path, help="write every part's results here")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="run only these parts")
    parser.add_argument("--budget", type=float, default=TOTAL_BUDGET, help="seconds for everything (default 470)")
    parser.add_argument("--corpus", type=Path, help="a k=6 corpus directory (default: a random genome's, built here)")
    parser.add_argument("--threads", type=int, default=4, help="CPU threads of each part")
    parser.add_argument("--workdir", type=Path, help="keep each part's log and JSON here (default: a temporary one)")
    parser.add_argument("--part", choices=tuple(CHILD_PARTS), help=argparse.SUPPRESS)
    parser.add_argument("--part-out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = run_plan(args.device, args.quick)
    if args.part:  # a child: one part
        sys.path.insert(0, str(BENCH))
        CHILD_PARTS[args.part](args, plan, args.part_out)
        return 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_check.") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.corpus is None:
            print(f"building a random-genome corpus ({plan['genome_bp'] / 1e6:.1f} Mbp) ...", file=sys.stderr)
            args.corpus = build_corpus(work / "corpus", plan["genome_bp"])
        parts: dict[str, dict] = {}
        for name in args.parts:
            remaining = args.budget - (time.perf_counter() - started) - RESERVE
            budget = min(BUDGETS[name] * (2 if args.device == "cpu" else 1), remaining)
            print(f"{name} (budget {budget:.0f} s) ...", file=sys.stderr, flush=True)
            parts[name] = run_part(name, args, work, budget)
        total = time.perf_counter() - started
        print_table(parts, total)
        report = {"device": args.device, "quick": args.quick, "total_seconds": round(total, 1), "parts": parts,
                  "table": [{"check": check, "result": figure} for check, figure in summary_rows(parts)]}
        if args.json:
            write_json(args.json, report)
    return 0 if all(part["status"] == "ok" for part in parts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
