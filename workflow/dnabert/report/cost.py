"""Run cost for the report: wall time, CPU time and peak memory of every job with a ``benchmark:`` file.

* :func:`benchmark_records` reads the files under ``benchmarks/`` that match a rule's
  ``benchmark:`` pattern (:func:`pattern_regex`), one :class:`BenchmarkRecord` per job.
* :func:`cost_by_rule` sums them per rule; :func:`write_cost_tsv` writes that table.
* :func:`write_cost_page` renders ``templates/report/cost.html.j2``; :func:`plot_cost`
  draws time and memory per rule.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.html import parse_number, table, write_page
from dnabert.io import InputError, PathLike, atomic_path
from dnabert.plots import PALETTE, figure, save


@dataclass
class BenchmarkRecord:
    """One job's ``benchmark:`` file: wall time (s), CPU time (s), peak resident memory (MB)."""

    rule: str
    job: str
    seconds: float | None
    cpu_seconds: float | None
    max_rss_mb: float | None
    path: str


def pattern_regex(pattern: str) -> re.Pattern:
    """A regex for a Snakemake file pattern (``{name}`` wildcards, optional ``{name,regex}``)."""
    parts, last = [], 0
    for match in re.finditer(r"\{([A-Za-z_]\w*)(?:,([^{}]+))?\}", pattern):
        parts.append(re.escape(pattern[last:match.start()]))
        name, regex = match.group(1), match.group(2) or r"[^/]+"
        parts.append(f"(?P={name})" if f"(?P<{name}>" in "".join(parts) else f"(?P<{name}>{regex})")
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts))


def benchmark_records(patterns: Mapping[str, str], root: PathLike = ".") -> list[BenchmarkRecord]:
    """Read every benchmark file under ``root`` that matches a rule's ``benchmark:`` pattern.

    ``patterns`` maps rule names to their benchmark patterns (e.g.
    ``benchmarks/finetune/{task}/seed{seed}.tsv``). Repeated measurements in one file
    (``repeat()``) are averaged.
    """
    root = Path(root)
    compiled = {rule: pattern_regex(pattern) for rule, pattern in patterns.items()}
    tops = {Path(pattern).parts[0] for pattern in patterns.values()}
    records = []
    for top in sorted(tops):
        for path in sorted((root / top).rglob("*")) if (root / top).is_dir() else []:
            if not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            for rule, regex in compiled.items():
                match = regex.fullmatch(relative)
                if match:
                    records.append(_read_benchmark(path, rule, match.groupdict()))
                    break
    return records


def _read_benchmark(path: Path, rule: str, wildcards: Mapping[str, str]) -> BenchmarkRecord:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise InputError(path, "not a Snakemake benchmark file (expected a header with column 's')", line=1)

    def mean(key: str) -> float | None:
        values = [v for v in (parse_number(row.get(key)) for row in rows) if v is not None]
        return float(np.mean(values)) if values else None

    job = ", ".join(f"{k}={v}" for k, v in wildcards.items()) or "-"
    return BenchmarkRecord(rule, job, mean("s"), mean("cpu_time"), mean("max_rss"), str(path))


def cost_by_rule(records: Sequence[BenchmarkRecord]) -> list[dict[str, Any]]:
    """Per rule: jobs, total/mean/max wall time, total CPU time, max peak memory; slowest first."""
    rules: dict[str, list[BenchmarkRecord]] = {}
    for record in records:
        rules.setdefault(record.rule, []).append(record)
    rows = []
    for rule, items in rules.items():
        seconds = [r.seconds for r in items if r.seconds is not None]
        cpu = [r.cpu_seconds for r in items if r.cpu_seconds is not None]
        rss = [r.max_rss_mb for r in items if r.max_rss_mb is not None]
        rows.append({
            "rule": rule, "jobs": len(items),
            "total_s": float(sum(seconds)) if seconds else None,
            "mean_s": float(np.mean(seconds)) if seconds else None,
            "max_s": float(max(seconds)) if seconds else None,
            "cpu_s": float(sum(cpu)) if cpu else None,
            "max_rss_mb": float(max(rss)) if rss else None,
        })  # fmt: skip
    return sorted(rows, key=lambda row: -(row["total_s"] or 0.0))


COST_COLUMNS = ("rule", "jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb")
COST_HEADERS = ("rule", "jobs", "wall time, total (s)", "per job, mean (s)", "per job, max (s)",
                "CPU time, total (s)", "peak memory, max (MB)")  # fmt: skip


def write_cost_tsv(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> None:
    """The :func:`cost_by_rule` rows as TSV (seconds and MB with 3 decimals, blank if unknown), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(COST_COLUMNS) + "\n")
        for row in rows:
            handle.write("\t".join("" if row[k] is None else (f"{row[k]:.3f}" if isinstance(row[k], float)
                                                              else str(row[k])) for k in COST_COLUMNS) + "\n")


def cost_context(records: Sequence[BenchmarkRecord]) -> dict[str, Any]:
    """What ``report/cost.html.j2`` shows: per-rule totals, then every job (``rules`` is ``None`` without any)."""
    rows = cost_by_rule(records)
    if not rows:
        return {"rules": None}
    total = sum(row["total_s"] or 0.0 for row in rows)
    jobs = sorted(records, key=lambda r: (r.rule, r.job))
    return {
        "n_jobs": len(records),
        "n_rules": len(rows),
        "minutes": f"{total / 60:,.1f}",
        "rules": table(COST_HEADERS, ([row[k] for k in COST_COLUMNS] for row in rows),
                       caption="Per rule, slowest first", digits=1),
        "jobs": table(("rule", "job", "wall time (s)", "CPU time (s)", "peak memory (MB)", "file"),
                      ((r.rule, r.job, r.seconds, r.cpu_seconds, r.max_rss_mb, r.path) for r in jobs),
                      numeric=(False, False, True, True, True, False), digits=1),
    }  # fmt: skip


def write_cost_page(path: PathLike, records: Sequence[BenchmarkRecord]) -> None:
    """The cost page of :func:`cost_context`."""
    write_page(path, "report/cost.html.j2", **cost_context(records))


def plot_cost(records: Sequence[BenchmarkRecord], path: PathLike) -> None:
    """Two panels of horizontal bars per rule: total wall time (min) and peak memory (MB)."""
    rows = cost_by_rule(records)
    fig, axes = figure(1, 2, figsize=(10, 0.45 * max(len(rows), 2) + 1.4), sharey=True, constrained_layout=True)
    names = [f"{row['rule']} ({row['jobs']})" for row in rows]
    y = np.arange(len(rows))
    axes[0].barh(y, [(row["total_s"] or 0.0) / 60 for row in rows], color=PALETTE["bert"])
    axes[0].set(xlabel="wall time, all jobs (min)", title="run time per rule")
    axes[1].barh(y, [row["max_rss_mb"] or 0.0 for row in rows], color=PALETTE["cnn"])
    axes[1].set(xlabel="peak memory of one job (MB RSS)", title="memory per rule")
    axes[0].set_yticks(y, names)
    axes[0].set_ylabel("rule (jobs)")
    axes[0].invert_yaxis()
    save(fig, path)

