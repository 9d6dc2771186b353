#!/usr/bin/env python
"""NFE2 end to end on real data: the fine-tuned k-mer BERT against both baselines.

Run from the repository root (needs ``../shared/data``)::

    .venv/bin/python bench/bench_nfe2.py [--seeds 1 2 3] [--layers 2 --hidden 128 --heads 4]
        [--init scratch | --model DIR] [--epochs 5] [--lr 2e-4] [--threads 1] [--out FILE.json]

Data: ENCODE GM12878 NFE2 ChIP-seq peak sequences (235 bp) with GC-matched genomic
negatives (``../shared/data/tf/nfe2_gm12878``), built exactly as the workflow's
``table`` task would: the ``.tr`` positives and negatives pooled and split 85/15 into
train and dev at random (seeded), the ``.test`` files kept as the test split
(69 + 69 sequences), with duplicate sequences removed across splits.

Models: the k-mer BERT classifier of ``dnabert.lm.finetune`` (DNABERT's fine-tuning
recipe: AdamW, linear warm-up 10 %, dropout 0.1, best dev-loss epoch scored on test)
either from scratch at the given size or from a pretrained/released model directory
(``--model``); the k-mer logistic regression and the DeepBind-like CNN of
``dnabert.lm.baselines`` with the workflow's default settings. One run per seed (the
logistic regression is deterministic and runs once). Prints test AUROC and MCC
(mean ± sd over seeds) and optionally writes every metric as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import torch

from dnabert.lm.baselines import BaselineSettings, run_baseline
from dnabert.data.datasets import build_dataset
from dnabert.lm.evaluation import read_task
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune
from dnabert.metrics import aggregate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf" / "nfe2_gm12878"
PREFIX = "wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0"


def build(out: Path) -> dict[str, Path]:
    """The NFE2 table task's train/dev/test.tsv.gz under ``out``."""
    files = [DATA / f"{PREFIX}{suffix}" for suffix in (".tr.fa", ".neg.tr.fa", ".test.fa", ".neg.test.fa")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"real data absent: {', '.join(missing)}")
    specs = [{"path": str(files[0]), "label": 1}, {"path": str(files[1]), "label": 0},
             {"path": str(files[2]), "label": 1, "split": "test"}, {"path": str(files[3]), "label": 0, "split": "test"}]
    cfg = {"type": "table", "files": specs, "random_split": {"dev": 0.15, "test": 0.0}}
    outputs = {split: out / f"{split}.tsv.gz" for split in ("train", "dev", "test")}
    build_dataset("nfe2_gm12878", cfg, {f"table_{i}": str(f) for i, f in enumerate(files)},
                  {"dev": [], "test": [], "seed": 1}, outputs)  # fmt: skip
    return outputs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--model", type=Path, help="pretrained or released model directory (default: from scratch)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--k", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    init = "pretrained" if args.model else "scratch"
    scratch = {"layers": args.layers, "hidden": args.hidden, "heads": args.heads, "intermediate": 4 * args.hidden,
               "attention_dropout": 0.0}  # fmt: skip
    settings = FinetuneSettings.from_config({"init": init, "scratch_model": scratch, "epochs": args.epochs,
                                             "lr": args.lr})  # fmt: skip
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="nfe2_") as tmp:
        paths = build(Path(tmp) / "data")
        splits, n_classes = read_task(paths)
        sizes = {name: len(split) for name, split in splits.items()}
        runs, seconds = {}, {}
        for seed in args.seeds:
            started = time.perf_counter()
            out = finetune(settings, paths, RunOutputs.under(Path(tmp) / f"seed{seed}"), k=args.k, seed=seed,
                           model_dir=args.model, device="cpu", threads=args.threads, progress=False)  # fmt: skip
            runs[str(seed)] = out["test"]
            seconds[str(seed)] = round(time.perf_counter() - started, 1)
        results["bert_" + init] = {"runs": runs, **aggregate(runs), "seconds": seconds}
        baselines = BaselineSettings.from_config({})
        for name in ("kmer_lr", "cnn"):
            started = time.perf_counter()
            metrics, _, _ = run_baseline(name, splits, n_classes, baselines, args.seeds)
            results[name] = {"runs": metrics, **aggregate(metrics), "seconds": round(time.perf_counter() - started, 1)}
    print(f"NFE2 GM12878: train {sizes['train']}, dev {sizes['dev']}, test {sizes['test']} sequences; "
          f"BERT {init} {args.layers}x{args.hidden}, {args.epochs} epochs, lr {args.lr}, seeds {args.seeds}")
    print(f"{'model':16} {'AUROC':>16} {'MCC':>16} {'AUPRC':>16} {'accuracy':>16}")
    for name, r in results.items():
        print(f"{name:16} " + " ".join(f"{r['text'][m]:>16}" for m in ("auroc", "mcc", "auprc", "accuracy")))
    if args.out:
        args.out.write_text(json.dumps({"sizes": sizes, "args": {k: str(v) for k, v in vars(args).items()},
                                        "results": results}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
