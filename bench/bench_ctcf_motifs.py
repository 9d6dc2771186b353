"""Real-data check of the interpretation stage: does attention find CTCF in real CTCF peaks?

GM12878 CTCF ChIP-seq summits +-100 bp (../shared/data/tf/ctcf_gm12878, 500 sequences)
against one dinucleotide shuffle each, split 80/10/10 at random; a small k-mer BERT is
fine-tuned from scratch (no pretrained model is on this machine), then the workflow's
interpretation steps run on every sequence: attention -> DNABERT's motif discovery ->
TOMTOM against JASPAR2024 CORE vertebrates. Prints the test metrics, the top motifs and
their best matches, and writes everything to --out.

    .venv/bin/python bench/bench_ctcf_motifs.py --out /tmp/ctcf_motifs
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_model  # noqa: E402

from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune  # noqa: E402
from dnabert.interpret.stage import InterpretSettings, compare_task, discover_task, score_task  # noqa: E402
from dnabert.interpret.motifs.jaspar import recovery_table  # noqa: E402
from dnabert.lm.models import ModelSettings  # noqa: E402
from dnabert.data.negatives import dinucleotide_shuffle  # noqa: E402
from dnabert.lm.predict import read_fasta_records  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tf" / "ctcf_gm12878" / "Gm12878.CTCF.top500.w200.fa"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fasta", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kmer", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    # One layer: the [CLS] attention of a 2-layer model trained from scratch on 800 sequences is
    # washed out in its last layer (no motif passes DNABERT's 10x-minimum rule); see the README.
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attention-layer", type=int, default=-1,
                        help="encoder layer whose [CLS] attention is used (-1: the last, DNABERT's choice)")
    parser.add_argument("--attention-heads", type=int, nargs="+", default=None,
                        help="heads to sum (default: all)")
    parser.add_argument("--ctcf-matrices", nargs="+", default=["MA0139"],
                        help="JASPAR matrix ids (prefixes) that count as CTCF for ctcf_is_top_match "
                             "(JASPAR 2024 also has the CTCF matrices MA1929 and MA1930)")
    parser.add_argument("--motif-scores", choices=("attention", "attribution"), default="attention",
                        help="per-base scores motifs are found from (interpret.motif_scores)")
    parser.add_argument("--model", type=Path, help="an already fine-tuned model directory: skip fine-tuning")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.fasta.is_file():
        print(f"real data absent: {args.fasta}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    data = write_splits(args.fasta, args.out, args.seed)
    settings = FinetuneSettings(init="scratch", lr=args.lr, epochs=args.epochs, patience=None,
                                scratch_model=ModelSettings(layers=args.layers, hidden=args.hidden,
                                                          heads=max(1, args.hidden // 32),
                                                          intermediate=4 * args.hidden, attention_dropout=0.0))  # fmt: skip
    run = args.out / "finetune"
    if args.model:
        run = args.model.parent
        metrics = json.loads((run / "metrics.json").read_text())
    else:
        metrics = finetune(settings, data, RunOutputs.under(run), k=args.kmer, seed=args.seed, task="ctcf_gm12878",
                           device="cpu", threads=args.threads, progress=False)  # fmt: skip
    trained = time.perf_counter()

    interpret = InterpretSettings.from_config({"attribution": {"sequences": 50}, "motif_scores": args.motif_scores,
                                               "attention": {"layer": args.attention_layer,
                                                             "heads": args.attention_heads}})
    scores = args.out / "interpret" / "attention" / "scores.npz"
    score_task(run / "model", data, interpret, scores_out=scores, agreement_out=scores.with_name("agreement.tsv"),
               heatmap_out=scores.with_name("heatmap.png"), profile_out=scores.with_name("profile.png"),
               task="ctcf_gm12878", device="cpu", threads=args.threads)  # fmt: skip
    base = args.out / "interpret"
    result = discover_task(scores, interpret, meme_out=base / "motifs.meme", summary_out=base / "motifs.tsv",
                           instances_out=base / "instances.tsv", bed_out=base / "instances.bed",
                           logos_out=base / "logos")  # fmt: skip
    tomtom = compare_task(base / "motifs.meme", interpret, tomtom_out=base / "tomtom.tsv",
                          figure_out=base / "logos.png", task="ctcf_gm12878")  # fmt: skip
    finished = time.perf_counter()

    best = tomtom[tomtom["rank"] == 1].reset_index(drop=True) if len(tomtom) else tomtom
    top = best.iloc[0] if len(best) else None
    summary = {
        "cpu": cpu_model(),
        "motif_scores": args.motif_scores,
        "test_auroc": metrics["test"]["auroc"],
        "test_mcc": metrics["test"]["mcc"],
        "motifs": len(result.motifs),
        "top_motif": None if top is None else {
            "motif": top["query"], "consensus": top["query_consensus"], "match": top["target_id"],
            "name": top["target_name"], "qvalue": float(top["qvalue"]),
            "instances": int(result.motifs[0].n_instances)},
        "ctcf_is_top_match": bool(top is not None and str(top["target_id"]).startswith(tuple(args.ctcf_matrices))
                                  and top["qvalue"] < interpret.qvalue),
        "top_match_is_a_ctcf_matrix": bool(top is not None and str(top["target_name"]).upper() == "CTCF"
                                           and top["qvalue"] < interpret.qvalue),
        "best_matches_ctcf": int(((best["target_name"].str.upper() == "CTCF") & (best["qvalue"] < interpret.qvalue)
                                  ).sum()) if len(best) else 0,
        "ma0139_recovered": bool(recovery_table(tomtom, {"CTCF": "MA0139.2"}, interpret.qvalue)["recovered"].iloc[0]),
        "finetune_seconds": round(trained - started, 1),
        "interpret_seconds": round(finished - trained, 1),
    }  # fmt: skip
    print(best.head(8)[["query", "query_consensus", "target_id", "target_name", "qvalue"]].to_string(index=False))
    print(json.dumps(summary, indent=2))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
