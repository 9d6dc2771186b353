#!/usr/bin/env python
"""Benchmark of the task-dataset building blocks (not a test).

1. Window extraction: 100,000 windows of 101 bp (random strand) from an indexed
   100 Mb genome, by ``dnabert.data.intervals.GenomeSequence.windows`` (from the
   BGZF genome the workflow uses, and from the same genome as plain FASTA) and by
   ``bedtools getfasta -s`` on the same BED in the same run (bedtools 2.30 reads
   plain FASTA only). Both write the same FASTA, compared byte for byte.
2. GC-matched background for 100,000 positives on the same genome, per split
   (train chr1+chr2, dev chr3, test chr4), as the workflow does it.
3. Dinucleotide shuffles of the 100,000 positives.

The genome is simulated here (isochore-like GC, soft-masked stretches, N gaps),
written once to --workdir and reused. Usage:

    .venv/bin/python bench/bench_datasets.py [--workdir /tmp/dnabert-bench] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pysam

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from dnabert.data.intervals import GenomeSequence, IntervalIndex, Intervals, fasta_header  # noqa: E402
from dnabert.sequence import gc_fraction, to_strings  # noqa: E402
from dnabert.data.negatives import dinucleotide_shuffle, gc_matched_windows, histogram_distance, ks_statistic  # noqa: E402

log = logging.getLogger("bench")
CHROMS = {"chr1": 25_000_000, "chr2": 25_000_000, "chr3": 25_000_000, "chr4": 25_000_000}
SPLITS = {"train": ["chr1", "chr2"], "dev": ["chr3"], "test": ["chr4"]}
WIDTH = 101
N_WINDOWS = 100_000
FLANK = 100  # bp kept free around each positive (100,000 positives x 1 kb would cover the genome)


def simulate_genome(workdir: Path, seed: int = 1) -> tuple[Path, Path]:
    """A 100 Mb genome as plain FASTA (+.fai) and BGZF (+.fai/.gzi); reused when present."""
    plain, bgzf = workdir / "genome.fa", workdir / "genome.fa.gz"
    if plain.exists() and Path(f"{bgzf}.gzi").exists():
        return plain, bgzf
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ATGCatgc", dtype=np.uint8)
    with open(plain, "wb") as out:
        for name, size in CHROMS.items():
            blocks = rng.integers(50_000, 150_000, size // 50_000 + 2)
            blocks = blocks[: np.searchsorted(np.cumsum(blocks), size) + 1]
            blocks[-1] -= blocks.sum() - size
            gc = np.repeat(np.clip(rng.normal(0.41, 0.05, blocks.size), 0.25, 0.65), blocks)
            base = (rng.random(size) < gc).astype(np.uint8) * 2 + (rng.random(size) < 0.5)
            masked = np.repeat(rng.random(size // 1000) < 0.35, 1000)
            masked = np.concatenate([masked, np.zeros(size - masked.size, dtype=bool)])
            seq = letters[base + 4 * masked]
            for _ in range(3):
                start = int(rng.integers(0, size - 60_000))
                seq[start : start + int(rng.integers(1_000, 50_000))] = ord("N")
            out.write(f">{name}\n".encode())
            lines = seq[: size - size % 60].reshape(-1, 60)
            out.write(np.hstack([lines, np.full((lines.shape[0], 1), ord("\n"), dtype=np.uint8)]).tobytes())
            if size % 60:
                out.write(seq[size - size % 60 :].tobytes() + b"\n")
    pysam.faidx(str(plain))
    pysam.tabix_compress(str(plain), str(bgzf), force=True)
    pysam.faidx(str(bgzf))
    return plain, bgzf


def random_windows(sizes: dict[str, int], n: int, rng: np.random.Generator) -> Intervals:
    names = list(sizes)
    lengths = np.array([sizes[c] for c in names], dtype=np.int64)
    k = rng.choice(len(names), size=n, p=lengths / lengths.sum())
    start = (rng.random(n) * (lengths[k] - WIDTH)).astype(np.int64)
    order = np.lexsort((start, k))
    chrom = np.array(names, dtype=object)[k][order]
    return Intervals(chrom, start[order], start[order] + WIDTH, rng.choice(["+", "-"], n))


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def extraction(plain: Path, bgzf: Path, workdir: Path, repeats: int) -> dict:
    rng = np.random.default_rng(2)
    with GenomeSequence(bgzf) as genome:
        windows = random_windows(genome.sizes, N_WINDOWS, rng)
    bed = workdir / "windows.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\tw\t0\t{st}\n" for c, s, e, st in
                           zip(windows.chrom, windows.start.tolist(), windows.end.tolist(), windows.strand)))
    headers = [f">{h}" for h in fasta_header(windows, stranded=True)]

    def ours(path: Path, out: Path) -> bytes:
        with GenomeSequence(path) as genome:
            codes = genome.windows(windows, oriented=True, upper=False)
        lines = [""] * (2 * len(headers))
        lines[0::2], lines[1::2] = headers, to_strings(codes)
        text = ("\n".join(lines) + "\n").encode()
        out.write_bytes(text)
        return text

    results: dict = {"windows": N_WINDOWS, "width": WIDTH}
    t, ours_bgzf = timed(lambda: ours(bgzf, workdir / "ours_bgzf.fa"), repeats)
    results["dnabert_bgzf_s"] = t
    t, ours_plain = timed(lambda: ours(plain, workdir / "ours_plain.fa"), repeats)
    results["dnabert_plain_s"] = t
    bedtools = shutil.which("bedtools")
    if bedtools:
        out = workdir / "bedtools.fa"
        cmd = [bedtools, "getfasta", "-fi", str(plain), "-bed", str(bed), "-s", "-fo", str(out)]
        t, _ = timed(lambda: subprocess.run(cmd, check=True), repeats)
        results["bedtools_plain_s"] = t
        results["bedtools_version"] = subprocess.run([bedtools, "--version"], capture_output=True,
                                                     text=True).stdout.strip()
        results["identical_to_bedtools"] = out.read_bytes() == ours_bgzf == ours_plain
    else:
        results["bedtools_plain_s"] = None
        log.warning("bedtools not found: install it (apt-get install bedtools) to compare")
    return results


def gc_matching(bgzf: Path, repeats: int) -> dict:
    rng = np.random.default_rng(3)
    with GenomeSequence(bgzf) as genome:
        # Positives biased towards GC-rich windows, so that matching has something to do.
        candidates = random_windows(genome.sizes, 4 * N_WINDOWS, rng)
        codes = genome.windows(candidates)
        gc = gc_fraction(codes)
        ok = (codes != ord("N")).all(axis=1)
        weight = np.where(ok, gc**3, 0)
        pick = np.sort(rng.choice(len(gc), size=N_WINDOWS, replace=False, p=weight / weight.sum()))
        positives, pos_gc = candidates.take(pick), gc[pick]
        pos_codes = codes[pick]
        exclude = IntervalIndex(Intervals(positives.chrom, positives.start - FLANK, positives.end + FLANK))

        def sample() -> tuple[np.ndarray, np.ndarray]:
            parts, target = [], []
            for split, chroms in SPLITS.items():
                mask = np.isin(positives.chrom, chroms)
                _, neg_gc = gc_matched_windows(genome, pos_gc[mask], chroms, WIDTH, int(mask.sum()), exclude, 50,
                                               0.0, np.random.default_rng(4))
                parts.append(neg_gc)
                target.append(pos_gc[mask])
            return np.concatenate(target), np.concatenate(parts)

        t, (target, matched) = timed(sample, repeats)
    t_shuffle, _ = timed(lambda: dinucleotide_shuffle(pos_codes, np.random.default_rng(5)), repeats)
    return {
        "positives": N_WINDOWS, "gc_matched_s": t, "negatives": int(len(matched)),
        "gc_tvd_50_bins": histogram_distance(target, matched, 50), "gc_ks": ks_statistic(target, matched),
        "positives_mean_gc": float(target.mean()), "negatives_mean_gc": float(matched.mean()),
        "dinucleotide_shuffle_s": t_shuffle,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dnabert-bench"))
    parser.add_argument("--repeats", type=int, default=5, help="median of this many runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    start = time.perf_counter()
    plain, bgzf = simulate_genome(args.workdir)
    log.info("genome ready (%.1f s): %s", time.perf_counter() - start, bgzf)
    figures = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
                    "pysam": pysam.__version__},
        "genome_bp": sum(CHROMS.values()),
        "extraction": extraction(plain, bgzf, args.workdir, args.repeats),
        "gc_matching": gc_matching(bgzf, args.repeats),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    e, g = figures["extraction"], figures["gc_matching"]
    bt = f"{e['bedtools_plain_s']:.2f} s" if e["bedtools_plain_s"] is not None else "n/a"
    print(f"""
| step (100 Mb genome, median of {args.repeats} runs) | time |
|---|---|
| extract {e['windows']:,} x {e['width']} bp windows, dnabert from BGZF | {e['dnabert_bgzf_s']:.2f} s |
| same, dnabert from plain FASTA | {e['dnabert_plain_s']:.2f} s |
| same, `bedtools getfasta -s` from plain FASTA | {bt} |
| outputs byte-identical | {e.get('identical_to_bedtools')} |
| GC-matched background for {g['positives']:,} positives (3 splits) | {g['gc_matched_s']:.2f} s |
| GC histogram TVD (50 bins) / KS statistic | {g['gc_tvd_50_bins']:.4f} / {g['gc_ks']:.4f} |
| dinucleotide shuffle of {g['positives']:,} positives | {g['dinucleotide_shuffle_s']:.2f} s |
| peak memory | {figures['max_rss_mb']:.0f} MB |
""")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
