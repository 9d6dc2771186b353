"""Where a workflow run's wall time went: a per-rule timing table from Snakemake's own log.

Reads the newest (or a given) ``.snakemake/log/*.snakemake.log`` of a finished run
and pairs every job's start with its ``Finished jobid`` line, so every rule is
covered (also those without a ``benchmark:`` file, such as the report); CPU time and
peak memory come from ``benchmarks/`` where a rule has one. Prints one table, rules
sorted by their summed job time, with the run's makespan and how much of it the
jobs filled (above 100 %: jobs ran side by side).

    .venv/bin/python bench/bench_demo_timing.py                 # the run in this folder
    .venv/bin/python bench/bench_demo_timing.py --dir /tmp/fresh-demo.XXXX --json timing.json
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]")
RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):")
JOBID = re.compile(r"^\s+jobid: (\d+)")
FINISHED = re.compile(r"^Finished job(?:id)?:? (\d+)")


def job_times(log: Path) -> list[tuple[str, float, dt.datetime, dt.datetime]]:
    """(rule, seconds, start, end) of every finished job in a Snakemake log."""
    started: dict[str, tuple[str, dt.datetime]] = {}
    jobs = []
    now: dt.datetime | None = None
    rule: str | None = None
    for line in log.read_text(errors="replace").splitlines():
        if match := STAMP.match(line):
            now = dt.datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif match := RULE.match(line):
            rule = match.group(1)
        elif (match := JOBID.match(line)) and rule and now:
            started[match.group(1)] = (rule, now)
            rule = None
        elif (match := FINISHED.match(line)) and match.group(1) in started and now:
            name, start = started.pop(match.group(1))
            jobs.append((name, (now - start).total_seconds(), start, now))
    return jobs


def cpu_by_rule(root: Path) -> dict[str, tuple[float, float]]:
    """Rule -> (summed CPU seconds, largest peak RSS in MB) from benchmarks/ (first path part after it).

    Benchmark files are named by rule folder (benchmarks/<rule or stage>/...); the mapping
    is approximate for rules that share a folder, so it is reported per folder.
    """
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        folder = path.relative_to(root / "benchmarks").parts[0].removesuffix(".tsv")
        totals[folder][0] += float(rows[-1].get("cpu_time") or 0)
        totals[folder][1] = max(totals[folder][1], float(rows[-1].get("max_rss") or 0))
    return {key: (value[0], value[1]) for key, value in totals.items()}


def table(jobs: list[tuple[str, float, dt.datetime, dt.datetime]]) -> tuple[list[dict], float]:
    """Per-rule rows (jobs, summed and longest job seconds, share of the makespan) and the makespan."""
    makespan = (max(j[3] for j in jobs) - min(j[2] for j in jobs)).total_seconds() if jobs else 0.0
    per_rule: dict[str, list[float]] = defaultdict(list)
    for name, seconds, _, _ in jobs:
        per_rule[name].append(seconds)
    rows = [{"rule": name, "jobs": len(times), "job_seconds": sum(times), "longest": max(times),
             "share": sum(times) / makespan if makespan else 0.0} for name, times in per_rule.items()]  # fmt: skip
    return sorted(rows, key=lambda row: -row["job_seconds"]), makespan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("."), help="the run's working directory")
    parser.add_argument("--log", type=Path, help="a Snakemake log (default: the newest with finished jobs)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args(argv)
    logs = [args.log] if args.log else sorted((args.dir / ".snakemake" / "log").glob("*.snakemake.log"))
    runs = [(log, job_times(log)) for log in logs]
    runs = [(log, jobs) for log, jobs in runs if jobs]
    if not runs:
        print(f"no finished jobs in any Snakemake log under {args.dir}", file=sys.stderr)
        return 1
    log, jobs = max(runs, key=lambda item: len(item[1]))
    rows, makespan = table(jobs)
    cpu = cpu_by_rule(args.dir)
    print(f"{log}: {len(jobs)} jobs, makespan {makespan:.0f} s ({makespan / 60:.1f} min)")
    print(f"{'rule':28s} {'jobs':>5s} {'job s':>8s} {'longest':>8s} {'share':>6s}")
    for row in rows:
        print(f"{row['rule']:28s} {row['jobs']:5d} {row['job_seconds']:8.0f} {row['longest']:8.0f} {row['share']:6.0%}")
    total = sum(row["job_seconds"] for row in rows)
    print(f"{'all jobs':28s} {len(jobs):5d} {total:8.0f} {'':8s} {total / makespan if makespan else 0:6.0%}")
    if cpu:
        print("CPU seconds by benchmarks/ folder: " + ", ".join(f"{k} {v[0]:.0f}" for k, v in sorted(cpu.items())))
    if args.json:
        args.json.write_text(json.dumps({"log": str(log), "makespan_s": makespan, "rules": rows,
                                         "cpu_by_folder": cpu}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
