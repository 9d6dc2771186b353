#!/usr/bin/env python
"""Zero-shot variant scores of a pretrained masked LM on real hg38 pieces (``dnabert zeroshot``), not a test.

Draws ``--sites`` random positions of hg38 chr20:1-10,000,000 (``../shared/data/hg38``,
A/C/G/T reference bases only, seeded), writes a VCF with all three SNVs of each
(REF from the genome), and scores it with :func:`dnabert.interpret.variants.zeroshot.zeroshot_file`
twice in the same run: with the given model and with an untrained model of the same
size and k (the baseline: what the same computation gives without pretraining).
Prints, for each model: time per site, the median llr, the share of llr < 0 (the
model prefers the reference), the share of sites whose reference base has the highest
``S(b)`` (top-1; chance = 25 %), and the mean llr of substitutions that create a CpG
against those that destroy one (the human genome is CpG-depleted, so a model that
learnt it should score created CpGs lower), and of transitions against transversions.

    .venv/bin/python bench/bench_zeroshot.py --model results/pretrain/model [--sites 300] [--window 101] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from dnabert.interpret.variants.zeroshot import zeroshot_file  # noqa: E402
from dnabert.lm.models import load_pretrained, save_model  # noqa: E402

GENOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "hg38" / "grch38.chr20_and_21_10M.fa.gz"
TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


def write_vcf(path: Path, genome: Path, sites: int, seed: int) -> int:
    """All three SNVs at ``sites`` random A/C/G/T positions of chr20 (1-based, REF from the genome)."""
    rng = np.random.default_rng(seed)
    lines = []
    with pysam.FastaFile(str(genome)) as fasta:
        while len(lines) < 3 * sites:
            pos = int(rng.integers(100_000, 9_900_000))
            ref = fasta.fetch("chr20", pos - 1, pos).upper()
            if ref in "ACGT":
                lines += [f"chr20\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\n" for alt in "ACGT" if alt != ref]
    path.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(lines))
    return sites


def summarise(table, genome: Path) -> dict:
    """The figures printed for one model."""
    ok = table[table["status"] == "ok"].copy()
    with pysam.FastaFile(str(genome)) as fasta:
        context = [fasta.fetch("chr20", p - 2, p + 1).upper() for p in ok["pos"]]
    ok["before"], ok["after"] = [c[0] for c in context], [c[2] for c in context]
    creates = ((ok["alt"] == "G") & (ok["before"] == "C")) | ((ok["alt"] == "C") & (ok["after"] == "G"))
    destroys = ((ok["ref"] == "G") & (ok["before"] == "C")) | ((ok["ref"] == "C") & (ok["after"] == "G"))
    transition = [(r, a) in TRANSITIONS for r, a in zip(ok["ref"], ok["alt"])]
    best_alt = ok.groupby("pos")["llr"].max()
    return {
        "alleles": int(len(ok)),
        "median_llr": float(ok["llr"].median()),
        "share_llr_below_0": float((ok["llr"] < 0).mean()),
        "top1_reference": float((best_alt < 0).mean()),
        "llr_creates_cpg": float(ok.loc[creates, "llr"].mean()),
        "llr_destroys_cpg": float(ok.loc[destroys, "llr"].mean()),
        "n_creates_cpg": int(creates.sum()),
        "n_destroys_cpg": int(destroys.sum()),
        "llr_transitions": float(ok.loc[transition, "llr"].mean()),
        "llr_transversions": float(ok.loc[[not t for t in transition], "llr"].mean()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="pretrained masked LM (directory or Hub id)")
    parser.add_argument("--genome", type=Path, default=GENOME)
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--window", type=int, default=101)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vcf = tmp / "sites.vcf"
        write_vcf(vcf, args.genome, args.sites, args.seed)
        trained, k = load_pretrained(args.model)
        untrained = type(trained)(trained.config)  # same size and k, random weights (seeded)
        torch.manual_seed(0)
        untrained.apply(untrained._init_weights)
        save_model(untrained, tmp / "untrained", k)
        for name, model in (("pretrained", args.model), ("untrained (baseline)", tmp / "untrained")):
            start = time.perf_counter()
            table = zeroshot_file(model, vcf, args.genome, tmp / "out.tsv", window=args.window, device="cpu",
                                  threads=args.threads, progress=False)  # fmt: skip
            seconds = time.perf_counter() - start
            results[name] = {**summarise(table, args.genome), "seconds_per_site": seconds / args.sites}
    print(f"model {args.model} (k = {k}), {args.sites} sites x 3 SNVs on hg38 chr20, window {args.window} bp")
    for name, figures in results.items():
        print(f"{name:>22}: " + ", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                                          for key, value in figures.items()))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
