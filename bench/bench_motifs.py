#!/usr/bin/env python
"""Benchmark of motif discovery from attention (``dnabert.interpret.motifs``), not a test.

10,000 positive and 10,000 negative random sequences of 101 bp; each positive
carries a CTCF site (JASPAR MA0139.2, sampled from its matrix) and synthetic
attention (smooth noise plus a bump over the site's core), as
``dnabert.interpret.synthetic.synthetic_attention_data`` makes them. Times:

1. ``discovery.discover`` (regions, candidate counting in all 20,000 sequences,
   hypergeometric tests, merging, windows), median of ``--repeats`` runs;
2. ``jaspar.tomtom_matches`` of the discovered motifs against JASPAR2024 CORE
   vertebrates (memelite), after one untimed warm-up call (the first call in a
   fresh environment compiles memelite's numba code, minutes; it is cached after).

Target: ``discover`` under 60 s for 10,000 positives on 2 cores; the exit status
is 1 if it is missed. Usage:

    .venv/bin/python bench/bench_motifs.py [--positives 10000] [--negatives 10000] [--length 101] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dnabert.interpret.motifs.discovery import discover  # noqa: E402
from dnabert.interpret.motifs.jaspar import jaspar_motifs, recovery_table, tomtom_matches  # noqa: E402
from dnabert.interpret.synthetic import synthetic_attention_data  # noqa: E402
from machine import cpu_model  # noqa: E402

log = logging.getLogger("bench")
TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positives", type=int, default=10_000)
    parser.add_argument("--negatives", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=101)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--motif", default="MA0139.2", help="JASPAR matrix planted in the positives")
    parser.add_argument("--release", default="JASPAR2024")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("dnabert.interpret.motifs",):
        logging.getLogger(name).setLevel(logging.WARNING)

    targets = jaspar_motifs(args.release)
    planted = {m.id: m for m in targets}[args.motif]
    start = time.perf_counter()
    pos, neg, scores, _ = synthetic_attention_data(planted.probs, args.positives, args.negatives,
                                                   length=args.length, seed=1)
    log.info("simulated %d + %d sequences of %d bp in %.1f s", len(pos), len(neg), args.length,
             time.perf_counter() - start)

    discover(pos[:200], neg[:200], scores[:200])  # imports (scipy.stats, pandas paths) outside the timing
    times, result = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = discover(pos, neg, scores)
        times.append(time.perf_counter() - start)
    discover_s = float(np.median(times))
    log.info("discover: %.2f s median of %d (%s); %s", discover_s, args.repeats,
             ", ".join(f"{t:.2f}" for t in times), result.stats)

    start = time.perf_counter()
    tomtom_matches(result.motifs[:1], targets)  # warm-up: numba compile or cache load
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    table = tomtom_matches(result.motifs, targets)
    tomtom_s = time.perf_counter() - start
    recovery = recovery_table(table, {planted.name: planted.id})
    top = table[table["rank"] == 1].head(1)

    out = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "positives": len(pos),
        "negatives": len(neg),
        "length": args.length,
        "discover_s": discover_s,
        "discover_runs_s": times,
        "sequences_per_s": (len(pos) + len(neg)) / discover_s,
        "positives_per_s": len(pos) / discover_s,
        "stats": result.stats,
        "motifs": len(result.motifs),
        "tomtom_queries": len(result.motifs),
        "tomtom_targets": len(targets),
        "tomtom_warmup_s": warmup_s,
        "tomtom_s": tomtom_s,
        "top_match": top[["query", "target_id", "target_name", "qvalue"]].to_dict("records"),
        "planted_recovered": bool(recovery["recovered"].all()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "target_s": TARGET_S,
        "target_met": discover_s < TARGET_S,
    }
    print(f"cpu: {out['cpu']} ({out['cores']} cores)")
    print(f"discover: {discover_s:.2f} s for {len(pos)} positives + {len(neg)} negatives of {args.length} bp "
          f"({out['sequences_per_s']:.0f} sequences/s; target < {TARGET_S:.0f} s: {'met' if out['target_met'] else 'MISSED'})")
    print(f"  {result.stats}")
    print(f"tomtom: {tomtom_s:.2f} s for {len(result.motifs)} motifs x {len(targets)} JASPAR matrices "
          f"(warm-up call {warmup_s:.1f} s)")
    print(f"planted {planted.id} {planted.name} recovered: {out['planted_recovered']}; top match {out['top_match']}")
    print(f"peak RSS: {out['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if out["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
