#!/usr/bin/env python
"""Benchmark of MLM pretraining throughput (not a test).

CPU, in one run, on the same model config (the demo's ``pretrain.model`` unless
overridden), the same corpus pieces, the same optimizer settings and the same
padded-token budget per step (``--batch`` sequences of up to 512 tokens):

1. ours: ``dnabert.lm.pretrain.pipeline.train`` (length-grouped batches, DNABERT span
   masking, MLM head only at masked positions);
2. baseline: ``transformers.Trainer`` + ``DataCollatorForLanguageModeling``
   (random batches padded to their longest piece, per-token 15 % masking, MLM
   head on every position), as run_mlm.py does it;
3. the same Trainer with ``train_sampling_strategy="group_by_length"``.

Throughput is real (non-padding) tokens per second of each timed step (the
first ``--warmup`` steps are left out), reported as the median over the steps
(robust to other load on a shared machine), with the mean and the best step. Model FLOPs utilisation (MFU) counts the
FLOPs the model needs for those tokens, the same for every contender: 6 x the
encoder's matrix parameters, 12 x layers x hidden x sequence length for
attention, and the MLM head (transform + decoder) at the masked 15 % only;
against the machine's fp32 matmul rate measured here (best of several 2048^3
products with the same threads).

GPU (when CUDA is available): DNABERT-base (12 x 768, 12 heads, 3072), sequences
of 512 tokens, bf16 autocast, fused AdamW: tokens/s and MFU against the measured
bf16 matmul rate (8192^3), for our training step and for the Hugging Face
BertForMaskedLM forward with labels (the Trainer's computation) on the same batches.

Needs the demo corpus (``snakemake --cores 2 results/corpus/k6``) and
``accelerate`` (the Trainer's dependency). Usage::

    .venv/bin/python bench/bench_pretrain.py [--corpus results/corpus/k6] [--steps 30] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from machine import cpu_model  # noqa: E402 (bench/machine.py, beside this script)

from dnabert.lm import kmer  # noqa: E402
from dnabert.lm.masking import mask_tokens, seeded_generator  # noqa: E402
from dnabert.lm.models import ModelSettings, bert_config, new_model  # noqa: E402
from dnabert.lm.pretrain.objective import MaskedLMObjective  # noqa: E402
from dnabert.lm.pretrain.pieces import PieceStore, split_pieces  # noqa: E402
from dnabert.lm.pretrain.pipeline import train  # noqa: E402
from dnabert.lm.pretrain.settings import OptimizerSettings, Outputs, PretrainSettings  # noqa: E402
from dnabert.lm.training import param_groups  # noqa: E402

log = logging.getLogger("bench")
MASK_RATE = 0.15


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
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        inner = 10 if device.type == "cuda" else 1
        for _ in range(inner):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, inner * 2 * n**3 / (time.perf_counter() - start))
    return best


# --------------------------------------------------------------------------- CPU contenders


def run_ours(settings: PretrainSettings, corpus: Path, dev: list[str], threads: int, warmup: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        metrics = train(settings, corpus, Outputs.under(tmp), dev, threads=threads, progress=False)
        rows = _history(Path(tmp) / "training_log.csv")
    timed = [row for row in rows if row["step"] > warmup]
    return _rates([row["tokens_delta"] for row in timed], [row["seconds_delta"] for row in timed]) | {
        "padding_fraction": metrics["padding_fraction"]
    }


def _rates(tokens: list[float], seconds: list[float]) -> dict:
    """Median of the per-step rates (robust to other load on the machine) and the overall mean."""
    per_step = np.array(tokens) / np.array(seconds)
    return {"tokens_per_s": float(np.median(per_step)), "tokens_per_s_mean": sum(tokens) / sum(seconds),
            "tokens_per_s_best": float(per_step.max()), "tokens": sum(tokens), "seconds": sum(seconds)}


def _history(path: Path) -> list[dict]:
    import csv

    with open(path) as handle:
        rows = [{key: float(value) if value else None for key, value in row.items()} for row in csv.DictReader(handle)]
    out, tokens, seconds = [], 0.0, 0.0
    for row in rows:
        if row["train_loss"] is None:
            continue
        out.append(
            {"step": row["step"], "tokens_delta": row["tokens"] - tokens, "seconds_delta": row["elapsed_s"] - seconds}
        )
        tokens, seconds = row["tokens"], row["elapsed_s"]
    return out


def run_trainer(
    model_settings: ModelSettings,
    k: int,
    pieces: list[list[int]],
    batch: int,
    steps: int,
    optimizer: OptimizerSettings,
    threads: int,
    warmup: int,
    strategy: str,
    seed: int,
) -> dict:
    """transformers.Trainer + DataCollatorForLanguageModeling on the same pieces."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(threads)
    tokenizer = kmer.build_hf_tokenizer(k)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=MASK_RATE, pad_to_multiple_of=8)
    counts = {"tokens": [], "padded": []}

    def collate(examples):
        out = collator(examples)
        counts["tokens"].append(int(out["attention_mask"].sum()))
        counts["padded"].append(int(out["attention_mask"].numel()))
        return out

    class Timer(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter() - self.start)

    timer = Timer()
    model = new_model(k, model_settings, seed)
    dataset = [{"input_ids": ids} for ids in pieces]
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_train_batch_size=batch, max_steps=steps, learning_rate=optimizer.lr,
            adam_beta1=optimizer.betas[0], adam_beta2=optimizer.betas[1], adam_epsilon=optimizer.eps,
            weight_decay=optimizer.weight_decay, warmup_steps=optimizer.warmup_steps, lr_scheduler_type="linear",
            max_grad_norm=optimizer.max_grad_norm, logging_strategy="no", save_strategy="no", report_to=[],
            use_cpu=True, dataloader_num_workers=0, seed=seed, disable_tqdm=True, train_sampling_strategy=strategy,
        )
        Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate, callbacks=[timer]).train()
    # The collator runs before on_step_begin; count tokens of the steps timed (gradient accumulation is 1).
    padded = sum(counts["padded"][:steps])
    return _rates(counts["tokens"][warmup:steps], timer.times[warmup:steps]) | {
        "padding_fraction": 1 - sum(counts["tokens"][:steps]) / padded
    }


# --------------------------------------------------------------------------- GPU


def gpu_benchmark(
    steps: int, batch: int, warmup: int, device: torch.device | None = None, model: ModelSettings | None = None,
    peak_size: int = 8192,
) -> dict:
    """DNABERT-base, 512-token sequences, bf16 autocast: our step and the HF full-head forward.

    ``device`` and ``model`` exist for a smoke run on a CPU with a small model.
    """
    device = device or torch.device("cuda")
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    k = 6
    base = model or ModelSettings()
    config = bert_config(k, base)
    peak = matmul_peak(device, torch.bfloat16, peak_size)
    flops = training_flops_per_token(config, 512, config.vocab_size)
    generator = seeded_generator(1)
    prepared = []
    for i in range(4):
        ids = torch.randint(kmer.N_SPECIAL, config.vocab_size, (batch, 512), generator=generator)
        ids[:, 0], ids[:, -1] = kmer.CLS_ID, kmer.SEP_ID
        masked = mask_tokens(ids, k, MASK_RATE, seeded_generator(2, i))
        flat = torch.nonzero(masked.masked.reshape(-1)).squeeze(1)
        targets = masked.labels.reshape(-1)[flat]
        prepared.append(tuple(t.to(device) for t in (masked.input_ids, flat, targets, masked.labels)))
    results = {"device": torch.cuda.get_device_name(device) if cuda else "cpu (smoke run)",
               "bf16_matmul_tflops": peak / 1e12, "batch": batch, "sequence_length": 512,
               "model": {"layers": config.num_hidden_layers, "hidden": config.hidden_size}}
    for name in ("ours", "hf_full_head"):
        bert = new_model(k, base, 1).to(device)
        objective = MaskedLMObjective(bert)
        opt = torch.optim.AdamW(param_groups(bert, 0.01), lr=4e-4, betas=(0.9, 0.98), eps=1e-6,
                                **({"fused": True} if cuda else {}))
        times = []
        for step in range(steps):
            ids, flat, targets, labels = prepared[step % len(prepared)]
            sync()
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                if name == "ours":
                    loss, _ = objective(ids, None, flat, targets)
                    loss = loss / max(1, targets.numel())
                else:
                    loss = bert(input_ids=ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(bert.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sync()
            times.append(time.perf_counter() - start)
        per_step = batch * 512 / np.array(times[warmup:])
        rate = float(np.median(per_step))
        results[name] = {"tokens_per_s": rate, "mfu": rate * flops / peak}
        del bert, objective, opt
        if cuda:
            torch.cuda.empty_cache()
    results["speedup"] = results["ours"]["tokens_per_s"] / results["hf_full_head"]["tokens_per_s"]
    return results


# --------------------------------------------------------------------------- main




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "results" / "corpus" / "k6")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml", help="model sizes from here")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (x 512 = our token budget)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--gpu-steps", type=int, default=30)
    parser.add_argument("--gpu-batch", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if not (args.corpus / "manifest.json").is_file():
        sys.exit(f"no corpus at {args.corpus}: build it with `snakemake --cores 2 results/corpus/k6`")

    config = yaml.safe_load(args.config.read_text())
    section = config.get("pretrain", {})
    k = int(config.get("kmer", 6))
    model_settings = ModelSettings(**section.get("model", {}))
    optimizer = OptimizerSettings(**{**section.get("optimizer", {}), "warmup_steps": 2})
    dev = list(config.get("splits", {}).get("dev", []))
    settings = PretrainSettings(
        k=k, model=model_settings, optimizer=optimizer, steps=args.steps, batch_tokens=args.batch * kmer.MAX_TOKENS,
        gradient_accumulation=1, log_every_steps=1, eval_every_steps=10**9, eval_pieces=16,
        checkpoint_every_steps=10**9, seed=1,
    )
    settings = replace(settings, masking=replace(settings.masking, rate=MASK_RATE, final_rate=None))
    store = PieceStore(args.corpus)
    train_ids, _, _ = split_pieces(store, dev, 16, 1)
    rng = np.random.default_rng(0)
    chosen = rng.choice(train_ids, size=min(train_ids.size, args.batch * args.steps * 2), replace=False)
    pieces = [store.reader[int(i)].astype(np.int64).tolist() for i in chosen]
    mean_context = float(np.sum(store.lengths[train_ids] ** 2) / np.sum(store.lengths[train_ids]))
    bert = bert_config(k, model_settings)
    flops = training_flops_per_token(bert, mean_context, bert.vocab_size)
    torch.set_num_threads(args.threads)
    peak = matmul_peak(torch.device("cpu"), torch.float32, 2048)

    results: dict = {
        "machine": {"cpu": cpu_model(), "threads": args.threads,
                    "torch": torch.__version__, "fp32_matmul_gflops": peak / 1e9},
        "model": {"layers": bert.num_hidden_layers, "hidden": bert.hidden_size, "heads": bert.num_attention_heads,
                  "intermediate": bert.intermediate_size, "vocab": bert.vocab_size,
                  "attention_dropout": model_settings.attention_dropout},
        "batch": {"sequences": args.batch, "padded_token_budget": args.batch * kmer.MAX_TOKENS},
        "steps": args.steps, "warmup_steps": args.warmup,
        "model_gflop_per_token": flops / 1e9, "mean_context": mean_context,
    }
    contenders = {
        "ours": lambda: run_ours(settings, args.corpus, dev, args.threads, args.warmup),
        "trainer": lambda: run_trainer(model_settings, k, pieces, args.batch, args.steps, optimizer, args.threads,
                                       args.warmup, "random", 1),
        "trainer_group_by_length": lambda: run_trainer(model_settings, k, pieces, args.batch, args.steps, optimizer,
                                                       args.threads, args.warmup, "group_by_length", 1),
    }
    for name, run in contenders.items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result = run()
        result["mfu"] = result["tokens_per_s"] * flops / peak
        results[name] = result
    for name in ("trainer", "trainer_group_by_length"):
        results[f"speedup_vs_{name}"] = results["ours"]["tokens_per_s"] / results[name]["tokens_per_s"]
    if torch.cuda.is_available():
        print("running the GPU benchmark ...", file=sys.stderr, flush=True)
        results["gpu"] = gpu_benchmark(args.gpu_steps, args.gpu_batch, args.warmup)

    print(f"\nCPU {results['machine']['cpu']} ({args.threads} threads, measured fp32 matmul {peak / 1e9:.1f} GFLOP/s);"
          " model "
          f"{bert.num_hidden_layers}x{bert.hidden_size}, {args.batch} x 512 padded tokens per step, {args.steps} steps")
    print(f"{'contender':<26}{'tokens/s':>10}{'(mean)':>9}{'(best)':>9}{'padding':>9}{'MFU':>8}")
    for name in contenders:
        r = results[name]
        print(f"{name:<26}{r['tokens_per_s']:>10.0f}{r['tokens_per_s_mean']:>9.0f}{r['tokens_per_s_best']:>9.0f}"
              f"{100 * r['padding_fraction']:>8.1f}%{100 * r['mfu']:>7.1f}%")
    print(f"speed-up: {results['speedup_vs_trainer']:.2f}x vs Trainer, "
          f"{results['speedup_vs_trainer_group_by_length']:.2f}x vs Trainer with group_by_length")
    if "gpu" in results:
        g = results["gpu"]
        print(f"\nGPU {g['device']} (bf16 matmul {g['bf16_matmul_tflops']:.0f} TFLOP/s), DNABERT-base, "
              f"{g['batch']} x 512")
        for name in ("ours", "hf_full_head"):
            print(f"{name:<26}{g[name]['tokens_per_s']:>10.0f} tokens/s  MFU {100 * g[name]['mfu']:.1f}%")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
