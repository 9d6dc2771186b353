#!/usr/bin/env python
"""Benchmark fine-tuning and inference throughput of the k-mer BERT classifier.

Run from the repository root::

    .venv/bin/python bench/bench_finetune.py [--sizes base small] [--length 101] [--threads 1]
                                             [--device auto] [--out FILE.json]

For each model size (``base``: DNABERT-base, 12 layers x 768; ``small``: 4 x 256;
``tiny``: 2 x 64) and random ``--length``-bp sequences (101 bp = DNABERT-TF's
windows, 96 6-mers) it measures, after warm-up steps that are not timed:

* **fine-tuning**: optimizer steps of ``dnabert.lm.finetune`` (forward, cross-entropy,
  backward, gradient clipping, AdamW, scheduler) on batches of 32 sequences, the
  same code path as a workflow run: sequences per second;
* **inference**: ``dnabert.lm.inference.predict_rows`` (eval mode, ``torch.inference_mode``,
  batches of 128, length-sorted, dynamic padding): sequences per second.

On CUDA the model runs under bf16 autocast, as in the workflow; on CPU in fp32 with
``--threads`` torch threads. Prints a table and optionally writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from dnabert.lm.finetune import FinetuneSettings, build_classifier, epoch_batches
from dnabert.lm.inference import encode, predict_rows
from dnabert.lm.training import autocast_for, param_groups, resolve_device
from dnabert.lm.models import ModelSettings

SIZES = {
    "base": ModelSettings(layers=12, hidden=768, heads=12, intermediate=3072, attention_dropout=0.1),
    "small": ModelSettings(layers=4, hidden=256, heads=4, intermediate=1024, attention_dropout=0.1),
    "tiny": ModelSettings(layers=2, hidden=64, heads=2, intermediate=128, attention_dropout=0.1),
}


def random_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(row) for row in rng.choice(list("ACGT"), size=(n, length))]


def bench_size(name: str, args: argparse.Namespace, device: torch.device) -> dict:
    settings = FinetuneSettings(init="scratch", scratch_model=SIZES[name], batch_size=32)
    model = build_classifier(settings, args.k, 2, seed=1).to(device)
    autocast, precision = autocast_for(device, "auto")
    n_train = 32 * (args.train_steps + args.warmup_steps)
    train = encode(random_sequences(n_train, args.length, 1), args.k)
    labels = torch.from_numpy(np.random.default_rng(2).integers(0, 2, len(train)))
    optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=2e-4,
                                  **({"fused": True} if device.type == "cuda" else {"foreach": True}))  # fmt: skip
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    batches = epoch_batches(train.lengths, 32, seed=1, epoch=0)
    model.train()

    def step(rows: np.ndarray) -> None:
        ids, mask = train.batch(rows)
        with autocast():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[rows].to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    for rows in batches[: args.warmup_steps]:
        step(rows)
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    timed = batches[args.warmup_steps : args.warmup_steps + args.train_steps]
    for rows in timed:
        step(rows)
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_s = time.perf_counter() - started
    trained = sum(len(rows) for rows in timed)

    test = encode(random_sequences(args.infer_sequences, args.length, 3), args.k)
    predict_rows(model, encode(random_sequences(256, args.length, 4), args.k), 128, device, autocast)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    predict_rows(model, test, 128, device, autocast)
    if device.type == "cuda":
        torch.cuda.synchronize()
    infer_s = time.perf_counter() - started
    parameters = sum(p.numel() for p in model.parameters())
    return {
        "size": name,
        "parameters_m": round(parameters / 1e6, 1),
        "precision": precision,
        "finetune_seqs_per_s": round(trained / train_s, 1),
        "inference_seqs_per_s": round(args.infer_sequences / infer_s, 1),
        "train_sequences": trained,
        "inference_sequences": args.infer_sequences,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["base", "small"])
    parser.add_argument("--length", type=int, default=101, help="sequence length in bp")
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--train-steps", type=int, default=10, help="timed optimizer steps (batch 32)")
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--infer-sequences", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", help="write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        f"{platform.processor() or platform.machine()}, {args.threads} torch thread(s)")  # fmt: skip
    results = [bench_size(name, args, device) for name in args.sizes]
    print(f"device: {device} ({machine}); {args.length}-bp sequences, {args.k}-mers")
    print(f"{'size':6} {'params':>8} {'precision':>9} {'fine-tune seq/s':>16} {'inference seq/s':>16}")
    for r in results:
        print(f"{r['size']:6} {r['parameters_m']:>7}M {r['precision']:>9} {r['finetune_seqs_per_s']:>16} "
              f"{r['inference_seqs_per_s']:>16}")  # fmt: skip
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"device": str(device), "machine": machine, "length": args.length, "k": args.k,
                       "results": results}, handle, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
