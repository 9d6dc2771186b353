#!/usr/bin/env python
"""How fast a small k-mer BERT starts to use context, by the length of its training windows.

The demo's pretraining (400 steps) ends no better at ``[MASK]`` than the k-mer
frequencies. This bench trains the same small ``BertForMaskedLM`` (the workflow's
:func:`dnabert.lm.models.new_model`, AdamW, clipping) on random windows of ``--windows``
tokens cut from the corpus's training pieces, about ``--batch-tokens`` tokens per step,
and prints every ``--every`` steps its accuracy at ``[MASK]`` on windows of the held-out
chromosomes (``--dev``), beside the k-mer frequencies' accuracy there. ``--masking single``
masks single k-mers (their neighbours then determine them), ``span`` DNABERT's spans
(:func:`dnabert.lm.masking.mask_tokens`, inputs all ``[MASK]`` here). ``--offsets`` draws
each window's position ids at a random offset, so all 512 position embeddings train.
Run from the repository root after ``snakemake --cores 2 results/corpus/k6`` (k-mer
length k: ``results/corpus/k{k}``, built with ``--config kmer=k``)::

    .venv/bin/python bench/bench_mlm_context.py [--corpus results/corpus/k3] [--windows 16 128]
        [--masking single] [--steps 600] [--lr 1e-3] [--offsets] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from dnabert.lm import kmer  # noqa: E402
from dnabert.lm.masking import mask_tokens  # noqa: E402
from dnabert.lm.models import ModelSettings, new_model  # noqa: E402
from dnabert.lm.pretrain.objective import kmer_log_frequencies  # noqa: E402
from dnabert.lm.pretrain.pieces import PieceStore, split_pieces  # noqa: E402


def windows(store: PieceStore, pieces: np.ndarray, width: int, rows: int, rng: np.random.Generator):
    """``rows`` random windows of ``width`` k-mer tokens from pieces long enough to hold one."""
    long = pieces[store.lengths[pieces] >= width + 2]
    if long.size == 0:
        raise SystemExit(f"no corpus piece holds a window of {width} tokens")
    chosen = long[rng.integers(0, long.size, rows)]
    ids, lengths = store.gather(chosen)
    start = 1 + (rng.random(rows) * (lengths - width - 1)).astype(np.int64)  # after [CLS], before [SEP]
    return torch.from_numpy(ids[np.arange(rows)[:, None], start[:, None] + np.arange(width)])


def position_ids(rows: int, width: int, offsets: bool, rng: np.random.Generator) -> torch.Tensor:
    """Position ids 0..width-1, or each row's shifted by a random offset (every position up to 511 reachable)."""
    start = rng.integers(0, kmer.MAX_TOKENS - width + 1, (rows, 1)) if offsets else np.zeros((rows, 1), np.int64)
    return torch.from_numpy(start + np.arange(width))


def masked(ids: torch.Tensor, k: int, masking: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs with every masked position shown as [MASK], and the mask (15 % of tokens)."""
    if masking == "span":
        where = mask_tokens(ids, k, 0.15, generator).masked
    else:
        where = torch.rand(ids.shape, generator=generator) < 0.15
    return ids.masked_fill(where, kmer.MASK_ID), where


def run(store, train_ids, dev_ids, width, args) -> list[dict]:
    """Train one model on ``width``-token windows; its held-out accuracy at [MASK] every ``args.every`` steps."""
    torch.manual_seed(0)
    rng, generator = np.random.default_rng(0), torch.Generator().manual_seed(0)
    model = new_model(store.k, ModelSettings(layers=2, hidden=128, heads=4, intermediate=512, dropout=0.0), seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    rows = max(1, args.batch_tokens // width)
    held_ids = windows(store, dev_ids, width, rows, np.random.default_rng(1))
    held_inputs, held_where = masked(held_ids, store.k, args.masking, torch.Generator().manual_seed(1))
    held_positions = position_ids(rows, width, args.offsets, np.random.default_rng(2))
    frequency_guess = int(kmer_log_frequencies(store, train_ids, kmer.vocab_size(store.k), seed=0).argmax())
    baseline = float((held_ids[held_where] == frequency_guess).float().mean())
    out, started = [], time.time()
    for step in range(1, args.steps + 1):
        ids = windows(store, train_ids, width, rows, rng)
        inputs, where = masked(ids, store.k, args.masking, generator)
        positions = position_ids(rows, width, args.offsets, rng)
        hidden = model.bert(input_ids=inputs, position_ids=positions).last_hidden_state
        loss = F.cross_entropy(model.cls(hidden[where]), ids[where])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.every == 0 or step == args.steps:
            model.eval()
            with torch.no_grad():
                hidden = model.bert(input_ids=held_inputs, position_ids=held_positions).last_hidden_state
                logits = model.cls(hidden[held_where])
            model.train()
            accuracy = float((logits.argmax(-1) == held_ids[held_where]).float().mean())
            out.append({"window": width, "step": step, "train_loss": round(loss.item(), 4),
                        "mask_accuracy": round(accuracy, 4), "frequency_accuracy": round(baseline, 4),
                        "seconds": round(time.time() - started, 1)})  # fmt: skip
            print(f"{width:>6} {step:>6} {out[-1]['train_loss']:>10.4f} {accuracy:>14.4f} {baseline:>14.4f} "
                  f"{out[-1]['seconds']:>8.1f}", flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("results/corpus/k6"))
    parser.add_argument("--dev", nargs="*", default=["chr3"], help="held-out chromosomes (splits.dev)")
    parser.add_argument("--windows", nargs="+", type=int, default=[16, 128], help="window lengths in tokens")
    parser.add_argument("--masking", choices=("single", "span"), default="single")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--offsets", action="store_true", help="random position-id offsets per window")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()
    if not all(2 <= width <= kmer.MAX_KMERS for width in args.windows):
        parser.error(f"--windows: window lengths must be 2 to {kmer.MAX_KMERS} tokens, got {args.windows}")
    torch.set_num_threads(args.threads)
    store = PieceStore(args.corpus)
    train_ids, dev_ids, source = split_pieces(store, args.dev, eval_pieces=len(store), seed=0)
    print(f"{store.k}-mers, {args.masking} masking, {args.steps} steps of about {args.batch_tokens} tokens, "
          f"lr {args.lr}, held out: {source}")  # fmt: skip
    print(f"{'window':>6} {'step':>6} {'train loss':>10} {'[MASK] acc.':>14} {'frequencies':>14} {'s':>8}")
    rows = [row for width in args.windows for row in run(store, train_ids, dev_ids, width, args)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
