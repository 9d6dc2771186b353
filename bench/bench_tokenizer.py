#!/usr/bin/env python
"""Benchmark the k-mer tokenizer and the pretraining-corpus build on one CPU core.

Run from the repository root::

    .venv/bin/python bench/bench_tokenizer.py [--genome-mb 200] [--sequences 20000] [--k 6] [--out FILE.json]

In one run, pinned to one core (CPU affinity and every thread-pool variable set to 1
before numpy is imported), it measures:

1. **Tokenizer throughput** on the same random 510-bp DNA strings:
   (a) DNABERT's approach: the space-joined k-mer string (``seq2kmer``) fed, one
   sequence at a time, to the pure-Python ``BertTokenizer`` with DNABERT's vocab
   (in transformers 5 that class is ``BertTokenizerLegacy``; ``BertTokenizer`` is
   now the Rust-backed one); (b) ``BertTokenizerFast`` on the same k-mer strings in
   one batch call, padded to numpy arrays; (c) our ``kmer.encode_batch`` from raw
   strings to padded id and mask arrays. The k-mer strings of (a) and (b) are built
   beforehand and not timed (this favours the baselines). The slow baselines run on
   a subset; rates are per second, so they compare directly. All three are checked
   to give identical ids first.
2. **Corpus build** of a simulated genome of ``--genome-mb`` Mbp (chromosome sizes
   in hg38 chr1-chr5 proportions), bgzipped and indexed with
   ``dnabert.data.genome.normalise_fasta``: ``build_corpus`` alone is timed in a fresh
   child process whose peak RSS is read with ``getrusage(RUSAGE_CHILDREN)``.
   ``dnabert.data.simulate`` needs about 37 bytes of RAM per base (about 7 GB for
   200 Mbp); when a small probe predicts that it would take longer than
   ``--max-simulation-s``, or with ``--genome-source random``, a random genome with
   N gaps and soft-masked blocks is written directly with numpy instead.

Targets (issue 4): ours >= 100x faster than (b) and >= 100 Mbp/s on one core; the
corpus >= 30 Mbp/s end to end and < 2 GB peak memory; the exit status is 1 if any
target fails. Everything runs in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import os

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",  # the Rust `tokenizers` thread pool
)
for _variable in THREAD_VARIABLES:  # before numpy (and any BLAS) is imported
    os.environ[_variable] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from dnabert.lm import kmer  # noqa: E402
from dnabert.lm.corpus import CorpusSettings, build_corpus  # noqa: E402
from machine import cpu_model  # noqa: E402 (bench/machine.py, beside this script)

MB = 1_000_000
GB = 1e9
HG38_BP = 3.1e9
HG38_CHR1_BP = 248_956_422
# hg38 chr1..chr5 lengths (Mbp): the simulated genome keeps these proportions.
HG38_CHROMOSOMES_MBP = (248.96, 242.19, 198.30, 190.21, 181.54)
TARGET_SPEEDUP_FAST = 100.0
TARGET_TOKENIZER_MBPS = 100.0
TARGET_CORPUS_MBPS = 30.0
TARGET_CORPUS_PEAK_BYTES = 2 * GB
GC = 0.41
LINE_WIDTH = 60


# --------------------------------------------------------------------------- helpers


def pin_to_one_core() -> int | None:
    """Restrict this process (and its children) to one CPU; return it, or None where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def max_rss_bytes(who: int) -> int:
    """Peak resident set size of ``RUSAGE_SELF`` or ``RUSAGE_CHILDREN``, in bytes."""
    value = resource.getrusage(who).ru_maxrss
    return int(value if sys.platform == "darwin" else value * 1024)  # Linux reports KiB


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def log(message: str) -> None:
    """Progress to stderr, so stdout holds only the report."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"




def machine_info(pinned_cpu: int | None) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "pinned_cpu": pinned_cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: package_version(name) for name in ("numpy", "transformers", "tokenizers", "pysam")},
    }


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class Throughput:
    """One tokenizer's measurement: ``sequences`` of total ``bases`` in ``seconds``."""

    method: str
    sequences: int
    bases: int
    seconds: float

    @property
    def mbp_per_s(self) -> float:
        return self.bases / MB / self.seconds

    @property
    def sequences_per_s(self) -> float:
        return self.sequences / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mbp_per_s": self.mbp_per_s, "sequences_per_s": self.sequences_per_s}


def random_sequences(rng: np.random.Generator, n: int, length: int) -> list[str]:
    """``n`` uniformly random upper-case ACGT strings of ``length`` bases."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size=n * length, dtype=np.uint8)]
    blob = letters.tobytes().decode("ascii")
    return [blob[i : i + length] for i in range(0, n * length, length)]


def check_sequences(rng: np.random.Generator, length: int, k: int) -> list[str]:
    """A few sequences for the identity check: several lengths, some with N's."""
    seqs = random_sequences(rng, 12, length)
    checked = []
    for i, seq in enumerate(seqs):
        letters = bytearray(seq[: max(k, length - 37 * i)], "ascii")
        if i % 3 == 1:
            for spot in rng.choice(len(letters), size=3, replace=False).tolist():
                letters[spot] = ord("N")
        checked.append(letters.decode("ascii"))
    return checked


def bert_tokenizers(vocab_file: Path) -> tuple[Any, Any]:
    """(pure-Python ``BertTokenizer`` as DNABERT used it, ``BertTokenizerFast``) on ``vocab_file``."""
    import transformers

    if "torch" in sys.modules:  # imported by transformers: keep it on one thread too
        sys.modules["torch"].set_num_threads(1)
    python_class = getattr(transformers, "BertTokenizerLegacy", None)  # transformers >= 5
    if python_class is None:
        python_class = transformers.BertTokenizer  # transformers 4.x: the Python one
    slow = python_class(str(vocab_file), do_lower_case=False)
    fast = transformers.BertTokenizerFast(str(vocab_file), do_lower_case=False)
    return slow, fast


def assert_identical_ids(slow: Any, fast: Any, seqs: Sequence[str], k: int) -> None:
    """Raise AssertionError unless (a), (b) and (c) give the same ids for every sequence."""
    batch = kmer.encode_batch(seqs, k)
    for i, seq in enumerate(seqs):
        string = kmer.seq2kmer(seq, k)
        ids_a = slow(string)["input_ids"]
        ids_b = fast(string)["input_ids"]
        ids_c = batch.input_ids[i][batch.attention_mask[i].astype(bool)].tolist()
        if not ids_a == ids_b == ids_c:
            raise AssertionError(f"sequence {i} ({len(seq)} bp): ids differ between (a), (b) and (c)")


def bench_tokenizers(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Time (a), (b), (c) on the same strings; return rates, speed-ups and target verdicts."""
    k = args.k
    rng = np.random.default_rng(args.seed)
    seqs = random_sequences(rng, args.sequences, args.length)
    vocab_file = work / "vocab.txt"
    kmer.write_vocab(vocab_file, k)
    slow, fast = bert_tokenizers(vocab_file)
    checks = check_sequences(rng, args.length, k)
    assert_identical_ids(slow, fast, checks, k)
    log(f"ids identical for (a), (b), (c) on {len(checks)} sequences (with N's, {len(checks[-1])}-{args.length} bp)")

    n_slow, n_fast = min(args.slow_sequences, len(seqs)), min(args.fast_sequences, len(seqs))
    start = time.perf_counter()
    strings = [kmer.seq2kmer(s, k) for s in seqs[:n_fast]]
    string_seconds = time.perf_counter() - start
    bases = args.length

    log(f"(a) {type(slow).__name__} on {n_slow} sequences, one call each")
    seconds_a = timed(lambda: [slow(s)["input_ids"] for s in strings[:n_slow]])
    log(f"(b) BertTokenizerFast on {n_fast} sequences, one batch call")
    seconds_b = timed(lambda: fast(strings, padding=True, return_tensors="np"))
    log(f"(c) kmer.encode_batch on {len(seqs)} sequences, median of {args.repeats}")
    kmer.encode_batch(seqs[:100], k)  # warm-up
    seconds_c = statistics.median(timed(lambda: kmer.encode_batch(seqs, k)) for _ in range(args.repeats))

    a = Throughput(f"(a) {type(slow).__name__} (Python), per sequence", n_slow, n_slow * bases, seconds_a)
    b = Throughput("(b) BertTokenizerFast (Rust), one batch", n_fast, n_fast * bases, seconds_b)
    c = Throughput(f"(c) kmer.encode_batch (ours, median of {args.repeats})", len(seqs), len(seqs) * bases, seconds_c)
    strings_rate = Throughput(
        "    seq2kmer strings for (a), (b) (untimed there)", n_fast, n_fast * bases, string_seconds
    )
    speedup_a, speedup_b = c.mbp_per_s / a.mbp_per_s, c.mbp_per_s / b.mbp_per_s
    return {
        "k": k,
        "sequence_bp": bases,
        "identity_checked_sequences": len(checks),
        "methods": {"a": a, "b": b, "c": c, "seq2kmer": strings_rate},
        "speedup_over_a": speedup_a,
        "speedup_over_b": speedup_b,
        "targets": {
            f"ours >= {TARGET_SPEEDUP_FAST:.0f}x faster than (b)": speedup_b >= TARGET_SPEEDUP_FAST,
            f"ours >= {TARGET_TOKENIZER_MBPS:.0f} Mbp/s on one core": c.mbp_per_s >= TARGET_TOKENIZER_MBPS,
        },
    }


# --------------------------------------------------------------------------- genome


def chromosome_sizes(total_bp: int) -> dict[str, int]:
    """Chromosome lengths in hg38 chr1-chr5 proportions, summing to ``total_bp``."""
    weights = np.array(HG38_CHROMOSOMES_MBP) / sum(HG38_CHROMOSOMES_MBP)
    sizes = np.floor(weights * total_bp).astype(np.int64)
    sizes[0] += total_bp - int(sizes.sum())
    return {f"chr{i + 1}": int(size) for i, size in enumerate(sizes)}


def simulation_settings(total_bp: int, n_gaps: int = 2) -> Any:
    """Settings for a genome of ``total_bp``: few genes and peaks (sequence is what matters here)."""
    from dnabert.data.simulate.settings import SimulationSettings, TFSpec

    return SimulationSettings(
        chromosomes=chromosome_sizes(total_bp),
        n_gaps=n_gaps,
        genes=50,
        tfs=(TFSpec("CTCF", "MA0139.2", 200, 0.8),),
        blacklist_regions=2,
    )


def run_simulation(total_bp: int, out_dir: Path) -> tuple[Path, str | None]:
    """``dnabert.data.simulate`` into ``out_dir``; return the gzip FASTA and a note on any setting changed.

    ``simulate`` draws internal gap sizes in a range that is empty for chromosomes
    longer than about 10 Mbp (numpy "low >= high"); then it is rerun without internal
    gaps (the telomeric N runs remain).
    """
    from dnabert.data.simulate.generate import simulate

    try:
        simulate(simulation_settings(total_bp), out_dir)
        note = None
    except ValueError as err:
        note = f"simulate() failed with internal N gaps ({err}); rerun with n_gaps=0 (telomeric N runs only)"
        log(note)
        simulate(simulation_settings(total_bp, n_gaps=0), out_dir)
    return out_dir / "genome.fa.gz", note


def write_random_genome(path: Path, sizes: dict[str, int], rng: np.random.Generator, chunk: int = 600 * 2**14) -> None:
    """A gzip FASTA of random bases (GC 41 %) with N telomeres and gaps and soft-masked blocks.

    Written chunk by chunk (``chunk`` a multiple of the line width), so memory stays
    a few times ``chunk`` whatever the chromosome size.
    """
    table = np.frombuffer(b"ATCG", dtype=np.uint8)
    cumulative = np.cumsum([(1 - GC) / 2, (1 - GC) / 2, GC / 2])
    with gzip.open(path, "wb", compresslevel=1) as out:
        for name, length in sizes.items():
            gaps = [(0, 10_000), (length - 10_000, length)]
            for _ in range(2):
                start = int(rng.integers(length // 4, 3 * length // 4))
                gaps.append((start, start + 50_000))
            out.write(f">{name}\n".encode())
            for low in range(0, length, chunk):
                high = min(low + chunk, length)
                letters = table[np.searchsorted(cumulative, rng.random(high - low))]
                masked = np.repeat(rng.random((high - low) // 300 + 1) < 0.35, 300)[: high - low]
                letters[masked] += ord("a") - ord("A")
                for start, end in gaps:
                    letters[max(start, low) - low : max(min(end, high) - low, 0)] = ord("N")
                out.write(wrap(letters))


def wrap(letters: np.ndarray, width: int = LINE_WIDTH) -> bytes:
    """FASTA lines of ``width`` bases (a newline after each, the last line may be shorter)."""
    full = letters.size // width * width
    rows = np.empty((full // width, width + 1), dtype=np.uint8)
    rows[:, :width] = letters[:full].reshape(-1, width)
    rows[:, width] = ord("\n")
    tail = letters[full:].tobytes() + b"\n" if letters.size > full else b""
    return rows.tobytes() + tail


def prepare_genome(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Make the benchmark genome (simulated, or random when simulation is too slow) and bgzip it."""
    from dnabert.data.genome import normalise_fasta

    total_bp = int(round(args.genome_mb * MB))
    source = args.genome_source
    info: dict[str, Any] = {"target_bp": total_bp, "note": None}
    if source == "auto":
        probe_bp = max(5 * MB, total_bp // 40)
        probe_seconds = timed(lambda: run_simulation(probe_bp, work / "probe"))
        shutil.rmtree(work / "probe")
        estimate = probe_seconds * total_bp / probe_bp
        info["simulation_estimate_s"] = estimate
        if estimate > args.max_simulation_s:
            source = "random"
            info["note"] = (
                f"simulating {total_bp / MB:.0f} Mbp would take about {estimate:.0f} s "
                f"(> {args.max_simulation_s:.0f} s); wrote a random genome with numpy instead"
            )
            log(info["note"])
        else:
            source = "simulate"
        log(
            f"simulation probe: {probe_bp / MB:.0f} Mbp in {probe_seconds:.1f} s; {total_bp / MB:.0f} Mbp ~{estimate:.0f} s"
        )
    raw_dir = work / "raw"
    raw_dir.mkdir()
    log(f"writing the {total_bp / MB:.0f} Mbp genome ({source})")
    start = time.perf_counter()
    if source == "simulate":
        raw, note = run_simulation(total_bp, raw_dir)
        info["note"] = note or info["note"]
    else:
        raw = raw_dir / "genome.fa.gz"
        write_random_genome(raw, chromosome_sizes(total_bp), np.random.default_rng(args.seed))
    info["source"] = source
    info["generate_s"] = time.perf_counter() - start
    fasta = work / "genome" / "genome.fa.gz"
    log("normalising to bgzip + .fai/.gzi")
    start = time.perf_counter()
    lengths = normalise_fasta(raw, fasta)
    info["normalise_s"] = time.perf_counter() - start
    raw.unlink()
    info.update(fasta=str(fasta), bases=sum(n for _, n in lengths), chromosomes=dict(lengths))
    return info


# --------------------------------------------------------------------------- corpus


def peak_rss_self() -> int:
    """This process's own peak RSS in bytes: VmHWM where /proc exists, else ``ru_maxrss``.

    On Linux ``ru_maxrss`` carries the parent's peak over ``exec``; VmHWM belongs to
    the new address space only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return max_rss_bytes(resource.RUSAGE_SELF)


def _worker_ready() -> int:
    """No-op task that makes the pool start its worker process now."""
    return os.getpid()


def _build_corpus_child(fasta: str, out_dir: str, k: int) -> dict[str, Any]:
    """Run in the worker process: time ``build_corpus`` alone and report its own memory."""
    baseline = peak_rss_self()
    settings = CorpusSettings(k=k)
    start = time.perf_counter()
    manifest = build_corpus(Path(fasta), Path(out_dir), settings, progress=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "baseline_rss_bytes": baseline,
        "self_peak_rss_bytes": peak_rss_self(),
        "shard_buffer_bytes": min(settings.shard_tokens, manifest["tokens"]) * 2,
        "pieces": manifest["pieces"],
        "tokens": manifest["tokens"],
        "piece_bases": manifest["bases"],
        "shards": len(manifest["shards"]),
    }


@contextmanager
def corpus_worker() -> Iterator[ProcessPoolExecutor]:
    """A one-process pool whose worker starts at once, while this script is still small.

    On Linux a child inherits its parent's peak RSS at ``exec`` (``ru_maxrss``), so a
    worker started after the tokenizer benchmark or the genome simulation (several
    GB) would hide the corpus build's own peak. Started now, the worker does nothing
    but the build, and once the pool is shut down (worker reaped)
    ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the build's peak.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_worker_ready).result()
        yield pool


def build_in_worker(args: argparse.Namespace, work: Path, pool: ProcessPoolExecutor) -> dict[str, Any]:
    """Prepare the ``--genome-mb`` genome here, then build its corpus in the worker."""
    genome = prepare_genome(args, work)
    log(f"build_corpus (k={args.k}) in the worker process")
    child = pool.submit(_build_corpus_child, genome["fasta"], str(work / "corpus"), args.k).result()
    return {"k": args.k, "genome": genome, "build": child}


def summarise_corpus(corpus: dict[str, Any], peak: int) -> dict[str, Any]:
    """Add rate, peak RSS (``peak``: RUSAGE_CHILDREN after the worker exited), hg38 outlook, verdicts."""
    genome, build = corpus["genome"], corpus["build"]
    rate = genome["bases"] / MB / build["seconds"]
    largest = max(genome["chromosomes"].values())
    fixed = build["baseline_rss_bytes"] + build["shard_buffer_bytes"]
    hg38_peak = fixed + max(peak - fixed, 0) * HG38_CHR1_BP / largest
    return {
        **corpus,
        "mbp_per_s": rate,
        "peak_rss_bytes": peak,
        "hg38": {"minutes": HG38_BP / MB / rate / 60, "peak_rss_bytes": hg38_peak},
        "targets": {
            f"corpus >= {TARGET_CORPUS_MBPS:.0f} Mbp/s end to end": rate >= TARGET_CORPUS_MBPS,
            f"corpus peak RSS < {TARGET_CORPUS_PEAK_BYTES / GB:.0f} GB": peak < TARGET_CORPUS_PEAK_BYTES,
        },
    }


# --------------------------------------------------------------------------- report


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, padded to the widest cell."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_targets(targets: dict[str, bool]) -> str:
    return "\n".join(f"  target: {name:<40} {verdict(ok)}" for name, ok in targets.items())


def report(machine: dict[str, Any], tokenizer: dict[str, Any] | None, corpus: dict[str, Any] | None) -> str:
    """The human-readable summary printed to stdout."""
    pinned = f"pinned to CPU {machine['pinned_cpu']}" if machine["pinned_cpu"] is not None else "not pinned"
    out = [
        f"machine: {machine['cpu']}, {machine['cores']} cores ({pinned}, all thread pools 1); "
        f"Python {machine['python']}, numpy {machine['numpy']}, transformers {machine['transformers']}, "
        f"tokenizers {machine['tokenizers']}, pysam {machine['pysam']}",
    ]
    if tokenizer is not None:
        c = tokenizer["methods"]["c"]
        rows = []
        for key, method in tokenizer["methods"].items():
            ratio = "" if key in ("c", "seq2kmer") else f"{c.mbp_per_s / method.mbp_per_s:,.0f}x"
            rows.append(
                [
                    method.method,
                    f"{method.sequences:,}",
                    f"{method.bases / MB:.2f}",
                    f"{method.seconds:.3f}",
                    f"{method.sequences_per_s:,.0f}",
                    f"{method.mbp_per_s:.3g}",
                    ratio,
                ]
            )
        out += [
            "",
            f"Tokenizer: random ACGT, {tokenizer['sequence_bp']} bp -> [CLS] {tokenizer['k']}-mers [SEP], one core",
            format_table(["method", "seqs", "Mbp", "seconds", "seqs/s", "Mbp/s", "ours faster by"], rows),
            f"  ids identical for (a), (b), (c) on {tokenizer['identity_checked_sequences']} sequences "
            "(several lengths, some with N): yes",
            format_targets(tokenizer["targets"]),
        ]
    if corpus is not None:
        genome, build = corpus["genome"], corpus["build"]
        largest = max(genome["chromosomes"].values())
        setup = f"generate {genome['generate_s']:.1f} s ({genome['source']}), normalise {genome['normalise_s']:.1f} s"
        out += [
            "",
            f"Corpus: {genome['bases'] / MB:.1f} Mbp genome, {len(genome['chromosomes'])} chromosomes "
            f"(largest {largest / MB:.1f} Mbp), k={corpus['k']}",
            f"  setup (not timed): {setup}",
        ]
        if genome["note"]:
            out.append(f"  note: {genome['note']}")
        out += [
            f"  build_corpus: {build['seconds']:.1f} s = {corpus['mbp_per_s']:.1f} Mbp/s end to end "
            f"(FASTA bases / wall time); peak RSS {corpus['peak_rss_bytes'] / GB:.2f} GB "
            f"(worker process, getrusage(RUSAGE_CHILDREN); {build['baseline_rss_bytes'] / GB:.2f} GB before the build)",
            f"  output: {build['pieces']:,} pieces, {build['tokens']:,} tokens, {build['shards']} shards",
            format_targets(corpus["targets"]),
            f"  hg38 (3.1 Gbp): at this rate the corpus takes about {corpus['hg38']['minutes']:.0f} min on one core; "
            "memory is bounded by the largest chromosome (chr1, 249 Mbp) plus the "
            f"{build['shard_buffer_bytes'] / 2**20:.0f} MiB shard buffer, not by genome size, so the peak stays at "
            f"most about {corpus['hg38']['peak_rss_bytes'] / GB:.1f} GB (this run's peak above the interpreter and "
            f"shard buffer scaled linearly from {largest / MB:.0f} to 249 Mbp).",
        ]
    return "\n".join(out)


def to_json(value: Any) -> Any:
    """JSON-ready copy of the results (dataclasses expanded)."""
    if isinstance(value, Throughput):
        return value.as_dict()
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    return value


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--k", type=int, default=6, choices=range(3, 7), help="k-mer size (default 6)")
    parser.add_argument("--sequences", type=int, default=20_000, help="sequences for our tokenizer (default 20000)")
    parser.add_argument("--length", type=int, default=510, help="bases per sequence (default 510)")
    parser.add_argument("--fast-sequences", type=int, default=4_000, help="subset for (b) (default 4000)")
    parser.add_argument("--slow-sequences", type=int, default=1_000, help="subset for (a) (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of ours; the median is kept (default 5)")
    parser.add_argument("--genome-mb", type=float, default=200.0, help="genome size in Mbp (default 200; 0: skip)")
    parser.add_argument(
        "--genome-source",
        choices=("auto", "simulate", "random"),
        default="auto",
        help="auto: dnabert.data.simulate unless a probe predicts > --max-simulation-s, then random",
    )
    parser.add_argument("--max-simulation-s", type=float, default=180.0, help="see --genome-source (default 180)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the temporary directory goes")
    parser.add_argument("--out", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    if args.length > kmer.MAX_KMERS + args.k - 1 or args.length < args.k:
        parser.error(f"--length must be in {args.k}..{kmer.MAX_KMERS + args.k - 1} for k={args.k}")
    if min(args.sequences, args.fast_sequences, args.slow_sequences, args.repeats) < 1:
        parser.error("--sequences, --fast-sequences, --slow-sequences and --repeats must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info(pin_to_one_core())
    corpus = None
    with tempfile.TemporaryDirectory(prefix="dnabert-bench.", dir=args.tmpdir) as tmp, corpus_worker() as pool:
        work = Path(tmp)
        tokenizer = bench_tokenizers(args, work)
        if args.genome_mb > 0:
            corpus = build_in_worker(args, work, pool)
    if corpus is not None:  # the worker has exited: RUSAGE_CHILDREN now holds its peak
        corpus = summarise_corpus(corpus, max_rss_bytes(resource.RUSAGE_CHILDREN))
    text = report(machine, tokenizer, corpus)
    print(text)
    if args.out is not None:
        results = {"command": sys.argv, "machine": machine, "tokenizer": tokenizer, "corpus": corpus}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(to_json(results), indent=2) + "\n")
        log(f"wrote {args.out}")
    targets = {**tokenizer["targets"], **(corpus["targets"] if corpus else {})}
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
