"""Real-data check of the interpretation stage: do both motif engines find CTCF in real CTCF peaks?

GM12878 CTCF ChIP-seq summits +-100 bp (../shared/data/tf/ctcf_gm12878, 500 sequences)
against one dinucleotide shuffle each, split 80/10/10 at random; a small k-mer BERT is
fine-tuned from scratch for each seed (no pretrained model is on this machine), then the
workflow's interpretation steps run on every sequence: layer and heads chosen on dev,
attention and integrated gradients, motifs from both engines (DNABERT's attention
discovery, TF-MoDISco on integrated gradients), TOMTOM against JASPAR2024 CORE
vertebrates. Prints one row per seed x engine (test AUROC, motifs, the top motif's best
match and q, whether it is a CTCF matrix: MA0139, MA1929 or MA1930) and writes
everything to --out (summary.json, summary.tsv).

    .venv/bin/python bench/bench_ctcf_motifs.py --out /tmp/ctcf_motifs --seeds 1 2 3
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

from dnabert.data.negatives import dinucleotide_shuffle  # noqa: E402
from dnabert.interpret.motifs.jaspar import recovery_table  # noqa: E402
from dnabert.interpret.scoring import score_task  # noqa: E402
from dnabert.interpret.settings import ENGINES, InterpretSettings  # noqa: E402
from dnabert.interpret.stage import MotifOutputs, motifs_task  # noqa: E402
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune  # noqa: E402
from dnabert.lm.models import ModelSettings  # noqa: E402
from dnabert.lm.predict import read_fasta_records  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf" / "ctcf_gm12878" / "Gm12878.CTCF.top500.w200.fa"
#: JASPAR 2024's CTCF matrices (CORE vertebrates).
CTCF_MATRICES = ("MA0139", "MA1929", "MA1930")


def write_splits(fasta: Path, out: Path, seed: int) -> dict[str, Path]:
    """Positives from ``fasta`` and one dinucleotide shuffle each, split 80/10/10 at random (pairs together)."""
    positives = [r.sequence.upper() for r in read_fasta_records(fasta)]
    rng = np.random.default_rng(seed)
    codes = np.frombuffer("".join(positives).encode(), dtype=np.uint8).reshape(len(positives), -1)
    shuffles = [row.tobytes().decode() for row in dinucleotide_shuffle(codes, rng)]
    split = rng.choice(["train", "dev", "test"], size=len(positives), p=[0.8, 0.1, 0.1])
    frame = pd.DataFrame({"sequence": positives + shuffles, "label": [1] * len(positives) + [0] * len(shuffles),
                          "name": [f"peak{i}" for i in range(len(positives))] * 2,
                          "split": np.concatenate([split, split])})  # fmt: skip
    paths = {}
    for name in ("train", "dev", "test"):
        part = frame[frame["split"] == name].drop(columns="split").sample(frac=1, random_state=seed)
        paths[name] = out / "data" / f"{name}.tsv.gz"
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        part.to_csv(paths[name], sep="\t", index=False)
    return paths


def cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def engine_row(seed: int, engine: str, tomtom: pd.DataFrame, metrics: dict, settings: InterpretSettings) -> dict:
    """One seed x engine: the top motif's best match, whether it is a CTCF matrix, and MA0139's best q."""
    best = tomtom[tomtom["rank"] == 1].reset_index(drop=True) if len(tomtom) else tomtom
    top = best.iloc[0] if len(best) else None
    significant = best[best["qvalue"] < settings.qvalue] if len(best) else best
    return {
        "seed": seed, "engine": engine, "test_auroc": round(float(metrics["test"]["auroc"]), 4),
        "motifs": int(len(best)),
        "motifs_matching_ctcf": int((significant["target_name"].str.upper() == "CTCF").sum()) if len(best) else 0,
        "top_consensus": None if top is None else str(top["query_consensus"]),
        "top_match": None if top is None else f"{top['target_id']} {top['target_name']}",
        "top_qvalue": None if top is None else float(top["qvalue"]),
        "top_is_ctcf": bool(top is not None and str(top["target_id"]).startswith(CTCF_MATRICES)
                            and top["qvalue"] < settings.qvalue),
        "ma0139_qvalue": float(recovery_table(tomtom, {"CTCF": "MA0139.2"}, settings.qvalue)["best_qvalue"].iloc[0]),
    }  # fmt: skip


def run_seed(args: argparse.Namespace, data: dict[str, Path], seed: int, interpret: InterpretSettings) -> list[dict]:
    """Fine-tune one seed, score, and run both engines; one row per engine."""
    out = args.out / f"seed{seed}"
    settings = FinetuneSettings(init="scratch", lr=args.lr, epochs=args.epochs, patience=None,
                                scratch_model=ModelSettings(layers=args.layers, hidden=args.hidden,
                                                          heads=max(1, args.hidden // 32),
                                                          intermediate=4 * args.hidden, attention_dropout=0.0))  # fmt: skip
    started = cpu_seconds()
    metrics = finetune(settings, data, RunOutputs.under(out / "finetune"), k=args.kmer, seed=seed, task="ctcf_gm12878",
                       device="cpu", threads=args.threads, progress=False)  # fmt: skip
    trained = cpu_seconds()
    base = out / "interpret"
    score_task(out / "finetune" / "model", data, interpret, dev_file=data["dev"], scores_out=base / "scores.npz",
               selection_out=base / "attention" / "selection.tsv", agreement_out=base / "attention" / "agreement.tsv",
               heatmap_out=base / "attention" / "heatmap.png", profile_out=base / "attention" / "profile.png",
               task=f"ctcf_gm12878 seed {seed}", device="cpu", threads=args.threads)  # fmt: skip
    rows = []
    for engine in args.engines:
        engine_started = cpu_seconds()
        tomtom = motifs_task(engine, base / "scores.npz", interpret, MotifOutputs.under(base / engine),
                             title=f"ctcf_gm12878 seed {seed}, {engine}", threads=1)  # fmt: skip
        row = engine_row(seed, engine, tomtom, metrics, interpret)
        row["motif_cpu_seconds"] = round(cpu_seconds() - engine_started, 1)
        rows.append(row)
    for row in rows:
        row["finetune_cpu_seconds"] = round(trained - started, 1)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fasta", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--attention-layer", default="auto", help="auto (chosen on dev) or a layer index (-1: last)")
    parser.add_argument("--attention-heads", default="auto", help="auto, all, or comma-separated head indices")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.fasta.is_file():
        print(f"real data absent: {args.fasta}", file=sys.stderr)
        return 2
    heads = args.attention_heads if args.attention_heads in ("auto", "all") else [int(h) for h in args.attention_heads.split(",")]
    interpret = InterpretSettings.from_config({"attribution": {"sequences": 400},
                                               "attention": {"layer": args.attention_layer, "heads": heads}})  # fmt: skip
    data = write_splits(args.fasta, args.out, 1)  # one split for every seed: the seeds vary the model only
    rows = [row for seed in args.seeds for row in run_seed(args, data, seed, interpret)]
    table = pd.DataFrame(rows)
    print(table[["seed", "engine", "test_auroc", "motifs", "motifs_matching_ctcf", "top_match", "top_qvalue",
                 "top_is_ctcf", "motif_cpu_seconds"]].to_string(index=False))  # fmt: skip
    summary = {"cpu": cpu_model(), "layers": args.layers, "epochs": args.epochs, "rows": rows,
               "all_top_ctcf": bool(table["top_is_ctcf"].all())}  # fmt: skip
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, indent=2))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    table.to_csv(args.out / "summary.tsv", sep="\t", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
