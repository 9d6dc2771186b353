"""What `snakemake --report` shows beyond the stages' own figures.

* Self-contained HTML tables (:func:`html_table`, :func:`write_html`): the report
  renders ``.html`` results in a frame, so every table a reader needs is one.
* Provenance (:func:`overview_html`): what ran, the configuration in brief, where
  the genome and peaks came from with their checksums, ENCODE accessions, JASPAR
  release, package versions and the workflow's git commit.
* Run cost (:func:`benchmark_records`, :func:`cost_html`, :func:`plot_cost`): wall
  time, CPU time and peak memory of every job with a ``benchmark:`` file.
* Stage tables: a task dataset's counts and composition (:func:`dataset_html`),
  held-out MLM metrics and throughput (:func:`pretrain_html`), test metrics of every
  task and model, mean ± sd over seeds (:func:`benchmark_html`).
* Per-task evaluation figures from the test predictions: ROC and precision-recall
  curves (:func:`plot_curves`) and confusion matrices (:func:`plot_confusion`).

Nothing here writes a timestamp, so the same run gives the same files.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import logging
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from dnabert.io import InputError, PathLike, atomic_path, read_json
from dnabert.metrics import SCALAR_METRICS, format_mean_sd
from dnabert.plots import PALETTE, figure, save

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; font-size: 14px; color: #222;
       margin: 1.2em 1.6em; line-height: 1.45; }
h1 { font-size: 1.45em; margin: 0 0 .4em; } h2 { font-size: 1.15em; margin: 1.4em 0 .4em; }
p.note { color: #555; max-width: 60em; }
table { border-collapse: collapse; margin: .3em 0 1em; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: .2em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .7em; text-align: left; vertical-align: top; }
th { background: #f2f5f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: bold; } code { font-size: .92em; background: #f4f4f4; padding: 0 .2em; }
details { margin: .5em 0 1em; } summary { cursor: pointer; color: #1b6ca8; }
"""


def esc(value: Any) -> str:
    """HTML-escaped text of a value (blank for ``None``)."""
    return "" if value is None else html.escape(str(value))


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: ``digits`` decimals for floats (scientific if smaller), thousands separators for ints."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:  # p- and q-values: 1.50e-05, not 0.000
            return f"{value:.2e}"
        return f"{value:,.{digits}f}"
    return str(value)


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
    digits: int | Sequence[int] = 3,
    row_classes: Sequence[str] | None = None,
    bold: Iterable[tuple[int, int]] = (),
) -> str:
    """A ``<table>``; cells are escaped, numbers formatted with :func:`fmt` and right-aligned.

    ``digits`` is one number of decimals or one per column; ``bold`` holds (row, column) cells.
    """
    rows = [list(row) for row in rows]
    if numeric is None:
        numeric = [bool(rows) and all(isinstance(row[i], (int, float)) or row[i] is None for row in rows)
                   for i in range(len(columns))]  # fmt: skip
    places = [digits] * len(columns) if isinstance(digits, int) else list(digits)
    strong = set(bold)
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        css = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = []
        for j, value in enumerate(row):
            text = esc(fmt(value, places[j]))
            if (i, j) in strong:
                text = f"<b>{text}</b>"
            cells.append(f'<td class="num">{text}</td>' if numeric[j] else f"<td>{text}</td>")
        parts.append(f"<tr{css}>{''.join(cells)}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def html_page(title: str, body: str) -> str:
    """A complete, self-contained HTML document (inline style, no scripts)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{esc(title)}</h1>\n{body}\n</body></html>\n"
    )


def write_html(path: PathLike, title: str, body: str) -> None:
    """Write :func:`html_page` as UTF-8, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(html_page(title, body), encoding="utf-8")


def note(text: str) -> str:
    return f'<p class="note">{text}</p>'


# --------------------------------------------------------------------------- provenance

#: Distributions whose versions the overview lists, in this order.
PACKAGES = (
    "snakemake", "numpy", "pandas", "scipy", "scikit-learn", "torch", "transformers", "tokenizers",
    "safetensors", "pysam", "pyjaspar", "memelite", "logomaker", "matplotlib", "seaborn",
)  # fmt: skip


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution, ``not installed`` where absent; Python first."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_revision(directory: PathLike) -> dict[str, Any] | None:
    """The commit checked out in ``directory`` and whether files differ from it; ``None`` outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                              check=True, timeout=60).stdout.strip()  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    try:
        describe = git("log", "-1", "--format=%cs %s")
    except (OSError, subprocess.SubprocessError):
        describe = ""
    return {"commit": commit, "dirty": bool(status), "subject": describe}


def sha256sum(path: PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_source(spec: Mapping[str, Any] | None) -> tuple[str, str]:
    """(where it came from, the configured checksum) of a config source mapping."""
    if not spec:
        return "none", ""
    checksum = ", ".join(f"{key} {spec[key]}" for key in ("md5", "sha256") if spec.get(key))
    if spec.get("unverified"):
        checksum = "none published (unverified: true; the SHA-256 of the download is recorded beside it)"
    if spec.get("encode"):
        return f"ENCODE {spec['encode']}", checksum
    if spec.get("url"):
        return str(spec["url"]), checksum
    if spec.get("path"):
        return f"local file {spec['path']}", checksum
    if spec.get("simulated"):
        return f"simulated ({spec['simulated']})", checksum
    if spec.get("simulate"):
        return "simulated", checksum
    return "; ".join(f"{k}: {v}" for k, v in spec.items() if not isinstance(v, (dict, list))), checksum


def _walk(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def jaspar_releases(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every ``*jaspar_release`` key of the config with its value."""
    return [(key, str(value)) for key, value in _walk(config) if key.split(".")[-1].endswith("jaspar_release")]


def jaspar_matrices(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what, matrix id) of every JASPAR matrix id the config names (planted motifs, etc.)."""
    found = []
    for key, value in _walk(config):
        if isinstance(value, str) and re.fullmatch(r"MA\d{4}\.\d+", value):
            found.append((key, value))
    simulate = (config.get("genome") or {}).get("simulate") or {}
    for tf in simulate.get("tfs", []):
        found = [(f"planted {tf['name']} motif" if v == tf.get("motif") else k, v) for k, v in found]
    return found


def encode_accessions(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(task, config key, accession) of every ENCODE file the config names."""
    rows = []
    for key, value in _walk(config.get("tasks") or {}):
        if key.endswith(".encode"):
            rows.append((key.split(".")[0], key.rsplit(".", 1)[0], str(value)))
    return rows


def config_summary(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The settings a reader needs to interpret the results, as (setting, value) rows."""
    genome = config.get("genome") or {}
    rows: list[tuple[str, str]] = [("genome", str(genome.get("name")))]
    simulate = genome.get("simulate")
    if simulate:
        chroms = simulate.get("chromosomes") or {}
        rows.append(("simulated genome", f"seed {simulate.get('seed')}, {len(chroms)} chromosomes, "
                                         f"{sum(chroms.values()) / 1e6:.2f} Mb"))  # fmt: skip
        for tf in simulate.get("tfs", []):
            rows.append((f"planted motif {tf['name']}", f"JASPAR {tf.get('motif')}, {tf.get('peaks')} peaks, "
                         f"motif in {tf.get('motif_fraction', '')} of them"))  # fmt: skip
    splits = config.get("splits") or {}
    rows.append(("held-out chromosomes", f"dev {', '.join(splits.get('dev', [])) or '-'}; "
                                         f"test {', '.join(splits.get('test', [])) or '-'}"))  # fmt: skip
    for name, task in (config.get("tasks") or {}).items():
        negatives = ", ".join(task.get("negatives") or {}) if task.get("negatives") else ""
        rows.append((f"task {name}", task.get("type", "") + (f"; negatives: {negatives}" if negatives else "")))
    rows.append(("k-mer length", str(config.get("kmer"))))
    pretrain = config.get("pretrain") or {}
    model = pretrain.get("model") or {}
    if model:
        rows.append(("pretraining model", f"{model.get('layers')} layers × {model.get('hidden')} hidden, "
                                          f"{model.get('heads')} heads"))  # fmt: skip
        rows.append(("pretraining steps", str(pretrain.get("steps"))))
    finetune = config.get("finetune") or {}
    if finetune:
        rows.append(("fine-tuning", f"init {finetune.get('init')}, seeds {finetune.get('seeds')}, "
                                    f"lr {finetune.get('lr')}, epochs {finetune.get('epochs')}, "
                                    f"headline {finetune.get('headline')}"))  # fmt: skip
    baselines = (config.get("baselines") or {}).get("models")
    if baselines:
        rows.append(("baselines", ", ".join(baselines)))
    return rows


def overview_html(
    config: Mapping[str, Any],
    *,
    configfiles: Sequence[str],
    inputs: Mapping[str, PathLike],
    workflow_dir: PathLike,
    snakemake_version: str | None = None,
) -> str:
    """The body of the overview page: configuration, inputs with checksums, versions, commit."""
    parts = [note(
        "What this run was asked to do and exactly what it ran on. Every input file is listed with the "
        "SHA-256 of the file the workflow read; downloads were also checked against the configured "
        "checksum before use. The full configuration, defaults included, is at the end of this page; "
        "every rule's code and software environment is under <em>Workflow</em> (click a rule in the graph)."
    )]
    parts.append("<h2>Configuration in brief</h2>")
    parts.append(html_table(["setting", "value"], config_summary(config)))
    parts.append("<p>Configuration files: " + (", ".join(f"<code>{esc(f)}</code>" for f in configfiles)
                 or "the embedded default, <code>config/config.yaml</code>") + "</p>")  # fmt: skip

    parts.append("<h2>Inputs and checksums</h2>")
    genome = config.get("genome") or {}
    source, checksum = describe_source(genome)
    rows = [("genome source", source, checksum or ("simulated by the workflow" if genome.get("simulate") else ""))]
    blacklist = genome.get("blacklist")
    if blacklist:
        rows.append(("blacklist source", *describe_source(blacklist)))
    for task, spec in _task_sources(config):
        rows.append((f"{task} source", *describe_source(spec)))
    parts.append(html_table(["input", "source", "configured checksum"], rows))
    file_rows = []
    for name, path in inputs.items():
        path = Path(path)
        file_rows.append((name, str(path), sha256sum(path) if path.is_file() else "missing"))
    parts.append(html_table(["file", "path", "SHA-256"], file_rows, caption="Files read by this run"))

    accessions = encode_accessions(config)
    parts.append("<h2>ENCODE accessions</h2>")
    if accessions:
        parts.append(html_table(["task", "config key", "accession"], accessions))
    else:
        simulated = " (its peaks are simulated)" if genome.get("simulate") else ""
        parts.append(f"<p>None: no task of this run reads ENCODE files{simulated}.</p>")

    parts.append("<h2>JASPAR</h2>")
    releases = jaspar_releases(config)
    version = package_versions(["pyjaspar"])["pyjaspar"]
    rows = [(key, value) for key, value in releases] + [("pyjaspar (bundles JASPAR offline)", version)]
    rows += [(f"matrix: {what}", matrix) for what, matrix in jaspar_matrices(config)]
    parts.append(html_table(["setting", "value"], rows))

    parts.append("<h2>Software</h2>")
    versions = package_versions()
    if snakemake_version:
        versions["snakemake"] = snakemake_version
    parts.append("<p>Versions in the environment that wrote this page:</p>")
    parts.append(html_table(["package", "version"], versions.items()))
    parts.append(note("With <code>--use-conda</code> each rule runs in its own pinned environment "
                      "(<code>envs/*.yaml</code>); the report lists each rule's environment under "
                      "<em>Workflow</em>."))  # fmt: skip
    revision = git_revision(workflow_dir)
    parts.append("<h2>Workflow version</h2>")
    if revision is None:
        parts.append(f"<p>The workflow in <code>{esc(workflow_dir)}</code> is not a git checkout "
                     "(or git is not installed).</p>")  # fmt: skip
    else:
        state = "with uncommitted changes" if revision["dirty"] else "clean"
        parts.append(html_table(["", ""], [("git commit", revision["commit"]), ("last commit", revision["subject"]),
                                           ("working tree", state), ("workflow directory", str(workflow_dir))]))
    parts.append("<h2>Full configuration</h2>")
    parts.append("<details><summary>Every setting this run used, schema defaults included (JSON)</summary>"
                 f"<pre>{esc(json.dumps(config, indent=2, sort_keys=True, default=str))}</pre></details>")  # fmt: skip
    return "\n".join(parts)


def _task_sources(config: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for name, task in (config.get("tasks") or {}).items():
        for role in ("peaks", "annotation", "tss", "blacklist"):
            spec = task.get(role)
            if isinstance(spec, Mapping):
                yield f"{name} {role}", spec
        for i, spec in enumerate(task.get("files") or []):
            if isinstance(spec, Mapping):
                yield f"{name} file {i + 1}", spec


# --------------------------------------------------------------------------- run cost


@dataclass
class BenchmarkRecord:
    """One job's ``benchmark:`` file: wall time (s), CPU time (s), peak resident memory (MB)."""

    rule: str
    job: str
    seconds: float | None
    cpu_seconds: float | None
    max_rss_mb: float | None
    path: str


def _number(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


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
        values = [v for v in (_number(row.get(key)) for row in rows) if v is not None]
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
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(COST_COLUMNS) + "\n")
        for row in rows:
            handle.write("\t".join("" if row[k] is None else (f"{row[k]:.3f}" if isinstance(row[k], float)
                                                              else str(row[k])) for k in COST_COLUMNS) + "\n")


def cost_html(records: Sequence[BenchmarkRecord]) -> str:
    """Body of the cost page: per-rule totals, then every job."""
    rows = cost_by_rule(records)
    if not rows:
        return "<p>No benchmark files found.</p>"
    total = sum(row["total_s"] or 0.0 for row in rows)
    parts = [note(
        f"Run time and memory of the {len(records)} jobs of {len(rows)} rules that record a "
        f"<code>benchmark:</code> file (the heavy ones), {total / 60:,.1f} min of wall time in all "
        "(jobs may have run in parallel). Wall time is the job's elapsed time; CPU time adds up all its "
        "cores; peak memory is the largest resident set size (RSS) of the job's processes. Values are "
        "from the files under <code>benchmarks/</code>."
    )]
    parts.append(html_table(COST_HEADERS, ([row[k] for k in COST_COLUMNS] for row in rows),
                            caption="Per rule, slowest first", digits=1))  # fmt: skip
    jobs = sorted(records, key=lambda r: (r.rule, r.job))
    parts.append("<details><summary>Every job</summary>")
    parts.append(html_table(("rule", "job", "wall time (s)", "CPU time (s)", "peak memory (MB)", "file"),
                            ((r.rule, r.job, r.seconds, r.cpu_seconds, r.max_rss_mb, r.path) for r in jobs),
                            numeric=(False, False, True, True, True, False), digits=1))  # fmt: skip
    parts.append("</details>")
    return "\n".join(parts)


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


# --------------------------------------------------------------------------- stage tables


def read_tsv(path: PathLike) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))




SPLITS = ("train", "dev", "test")


def dataset_html(task: str, counts: PathLike, composition: PathLike, summary: PathLike) -> str:
    """Body of a task's data page: sequences per split, class and source; GC/length; leakage checks."""
    count_rows = read_tsv(counts)
    qc = read_json(summary)
    table: dict[tuple[str, str], dict[str, int]] = {}
    for row in count_rows:
        table.setdefault((row["label"], row["source"]), {})[row["split"]] = int(row["count"])
    rows = []
    for (label, source), by_split in sorted(table.items(), key=lambda item: (-int(item[0][0]), item[0][1])):
        values = [by_split.get(split, 0) for split in SPLITS]
        rows.append([label, source, *values, sum(values)])
    totals = [sum(row[2 + i] for row in rows) for i in range(len(SPLITS))]
    rows.append(["", "all", *totals, sum(totals)])
    chroms = qc.get("chromosomes", {})
    parts = [note(
        f"The fine-tuning dataset of task <b>{esc(task)}</b>: sequences per split by class (label) and "
        "source. Positives have label ≥ 1; each negative type is its own source. Splits hold out whole "
        "chromosomes: train " + esc(", ".join(chroms.get("train", [])) or "-") + "; dev "
        + esc(", ".join(chroms.get("dev", [])) or "-") + "; test " + esc(", ".join(chroms.get("test", [])) or "-")
        + "."
    )]
    parts.append(html_table(["label", "source", *SPLITS, "total"], rows, caption="Sequences per split",
                            row_classes=[""] * (len(rows) - 1) + ["best"]))  # fmt: skip
    stats = read_tsv(composition)
    parts.append(html_table(
        ["split", "label", "source", "n", "GC mean", "GC sd", "length min", "length median", "length max"],
        ([r["split"], r["label"], r["source"], int(r["n"]), _number(r["gc_mean"]), _number(r["gc_sd"]),
          _number(r["length_min"]), _number(r["length_median"]), _number(r["length_max"])] for r in stats),
        caption="GC content (fraction) and length (bp) by split, class and source",
        numeric=(False, False, False, True, True, True, True, True, True), digits=(0, 0, 0, 0, 3, 3, 0, 1, 0),
    ))  # fmt: skip
    distance = qc.get("gc_distance_to_positives") or {}
    if distance:
        parts.append(html_table(
            ["negative type", "GC histogram distance (TVD)", "Kolmogorov-Smirnov D"],
            ([source, _number(d.get("gc_histogram_tvd")), _number(d.get("gc_ks"))] for source, d in sorted(distance.items())),
            caption="How far each negative type's GC content is from the positives' (0 = identical)",
        ))  # fmt: skip
    parts.append(html_table(
        ["check", "value"],
        [("sequences (or reverse complements) in two splits", qc.get("sequences_in_two_splits")),
         ("intervals overlapping an interval of another split", qc.get("intervals_overlapping_another_split"))],
        caption="Leakage checks (both should be 0)",
    ))  # fmt: skip
    return "\n".join(parts)


def _round(value: Any, digits: int) -> Any:
    """A float as text with ``digits`` decimals (so a table column can mix precisions)."""
    return fmt(value, digits) if isinstance(value, float) else value


def pretrain_html(metrics: Mapping[str, Any]) -> str:
    """Body of the pretraining page: held-out MLM metrics, throughput, model and data sizes."""
    ev = metrics.get("eval") or {}
    model = metrics.get("model") or {}
    params = model.get("parameters") or {}
    rows = [
        ("held-out masked-token cross-entropy (nats)", ev.get("loss")),
        ("uniform-guess cross-entropy, ln 4^k (nats)", ev.get("uniform_loss")),
        ("held-out masked-token accuracy", ev.get("accuracy")),
        ("held-out perplexity", _round(ev.get("perplexity"), 1)),
        ("held-out masked tokens scored", ev.get("masked_tokens")),
        ("held-out pieces", ev.get("pieces")),
        ("held-out data", ev.get("held_out")),
    ]
    parts = [note("Masked-language-model pretraining of the k-mer BERT. The held-out set is pieces of the "
                  "dev chromosomes, never trained on; a model that learnt nothing scores the uniform-guess "
                  "cross-entropy and an accuracy of 1/4^k.")]  # fmt: skip
    parts.append(html_table(["held-out metric", "value"], rows, numeric=(False, False)))
    train = metrics.get("train") or {}
    first, last = train.get("first_logged") or {}, train.get("last_logged") or {}
    rows = [
        ("optimizer steps", metrics.get("steps")),
        ("tokens trained on", metrics.get("tokens")),
        ("epochs over the corpus", metrics.get("epochs")),
        ("training time (s)", _round(metrics.get("train_seconds"), 1)),
        ("throughput (tokens/s)", _round(metrics.get("tokens_per_second"), 0)),
        ("padding (share of batch tokens)", metrics.get("padding_fraction")),
        (f"training loss, first logged (step {first.get('step', '?')})", first.get("loss")),
        (f"training loss, last logged (step {last.get('step', '?')})", last.get("loss")),
        ("device, processes, precision", f"{metrics.get('device')}, {metrics.get('processes')}, "
                                         f"{metrics.get('precision')}"),
        ("resumed from step", metrics.get("resumed_from_step")),
        ("started from", metrics.get("pretrained") or "random weights"),
    ]
    parts.append(html_table(["training", "value"], rows, numeric=(False, False)))
    rows = [("k-mer length", metrics.get("k")), ("layers", model.get("layers")), ("hidden size", model.get("hidden")),
            ("attention heads", model.get("heads")), ("feed-forward size", model.get("intermediate")),
            ("parameters", params.get("total")), ("of which embeddings", params.get("embedding"))]  # fmt: skip
    parts.append(html_table(["model", "value"], rows, numeric=(False, False)))
    return "\n".join(parts)


METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1 (macro)", "mcc": "MCC", "auroc": "AUROC", "auprc": "AUPRC",
                "precision": "precision", "recall": "recall"}  # fmt: skip


def benchmark_html(summary: PathLike) -> str:
    """Body of the test-metrics page from ``results/benchmarks/summary.tsv``.

    First the headline metric and AUROC of every model side by side, one row per task,
    then every metric; mean ± sd over runs, the best value per task in bold.
    """
    rows = read_tsv(summary)
    if not rows:
        return "<p>No tasks.</p>"
    metrics = [m for m in SCALAR_METRICS if f"{m}_mean" in rows[0]]
    by_task: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], []).append(row)
    models = list(dict.fromkeys(row["model"] for row in rows))
    headlines = list(dict.fromkeys(items[0].get("headline") or "mcc" for items in by_task.values()))
    shown = list(dict.fromkeys([*headlines, "auroc"]))
    parts = [note(
        "Test-set metrics of every task's fine-tuned model beside the baselines, all trained on the same "
        "train split, selected on the same dev split and scored once on the test split: mean ± sample sd "
        "over runs (seeds; the k-mer logistic regression is deterministic and runs once). The best value "
        "per task is in bold. MCC: 0 is chance, 1 perfect; AUROC: 0.5 is chance. For multi-class tasks "
        "F1, AUROC and AUPRC are macro averages over classes."
    )]
    columns = ["task"] + [f"{model} {METRIC_NAMES.get(m, m)}" for m in shown for model in models]
    body, bold = [], []
    for i, (task, items) in enumerate(by_task.items()):
        lookup = {item["model"]: item for item in items}
        cells: list[Any] = [task]
        for metric in shown:
            means = [_number(lookup[m][f"{metric}_mean"]) if m in lookup else None for m in models]
            best = max((v for v in means if v is not None), default=None)
            for model, mean in zip(models, means):
                sd = _number(lookup[model][f"{metric}_sd"]) if model in lookup else None
                if best is not None and mean == best:
                    bold.append((i, len(cells)))
                cells.append(format_mean_sd(mean, sd) if model in lookup else "")
        body.append(cells)
    parts.append(html_table(columns, body, bold=bold, numeric=[False] + [True] * (len(columns) - 1),
                            caption=f"{', '.join(METRIC_NAMES.get(m, m) for m in shown)} per task and model"))
    body, bold = [], []
    for task, items in by_task.items():
        best = {m: max((v for v in (_number(item[f"{m}_mean"]) for item in items) if v is not None), default=None)
                for m in metrics}  # fmt: skip
        for item in items:
            row = len(body)
            body.append([task, item["model"], int(item["runs"])])
            for metric in metrics:
                mean = _number(item[f"{metric}_mean"])
                if mean is not None and mean == best[metric]:
                    bold.append((row, len(body[-1])))
                body[-1].append(format_mean_sd(mean, _number(item[f"{metric}_sd"])))
    parts.append(html_table(["task", "model", "runs", *(METRIC_NAMES[m] for m in metrics)], body, bold=bold,
                            numeric=(False, False, True, *(True for _ in metrics)), caption="Every metric"))
    return "\n".join(parts)


# --------------------------------------------------------------------------- per-task evaluation figures


def read_predictions(path: PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Run name -> (labels, class probabilities) from a predictions TSV (``run`` column optional)."""
    rows = read_tsv(path)
    if not rows:
        raise InputError(path, "no predictions")
    probs_cols = sorted((c for c in rows[0] if c.startswith("prob_")), key=lambda c: int(c.split("_")[1]))
    if "label" not in rows[0] or len(probs_cols) < 2:
        raise InputError(path, "expected columns label and prob_0, prob_1, ...", line=1)
    runs: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        runs.setdefault(row.get("run") or "", []).append(row)
    return {
        run: (np.array([int(r["label"]) for r in items]), np.array([[float(r[c]) for c in probs_cols] for r in items]))
        for run, items in runs.items()
    }


def model_predictions(files: Mapping[str, Sequence[PathLike]]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Model name -> run name -> (labels, probabilities), from each model's predictions files."""
    models: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for model, paths in files.items():
        paths = [Path(path) for path in paths]
        # A file without a run column is one run, named by its folder (seed1/, ...) or else its file name.
        folders = [path.parent.name for path in paths]
        names = folders if len(set(folders)) == len(paths) else [path.stem for path in paths]
        runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, path in zip(names, paths):
            for run, data in read_predictions(path).items():
                runs[run or name] = data
        models[model] = runs
    return models


def class_names(task_type: str, n_classes: int) -> list[str]:
    if task_type == "splice" and n_classes == 3:
        return ["non-splice", "donor", "acceptor"]
    if n_classes == 2 and task_type in ("peaks", "promoters"):
        return ["negative", "positive"]
    return [str(i) for i in range(n_classes)]


def _colour(model: str, i: int) -> str:
    if model in PALETTE:
        return PALETTE[model]
    if model.startswith("dnabert") or model.startswith("bert"):
        return PALETTE["bert"]
    import seaborn as sns

    return sns.color_palette("colorblind")[(i + 3) % 10]


def _binary_view(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class-1 scores for two classes; one-vs-rest indicator and scores flattened (micro-average) for more."""
    if probs.shape[1] == 2:
        return (labels == 1).astype(int), probs[:, 1]
    onehot = np.eye(probs.shape[1], dtype=int)[labels]
    return onehot.ravel(), probs.ravel()


def plot_curves(models: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], path: PathLike,
                title: str = "") -> None:  # fmt: skip
    """ROC (left) and precision-recall (right) curves on the test split: one line per model and run."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    fig, (ax_roc, ax_pr) = figure(1, 2, figsize=(10.5, 4.4), constrained_layout=True)
    multiclass = False
    base_rate = None
    for i, (model, runs) in enumerate(models.items()):
        colour = _colour(model, i)
        aurocs, aps = [], []
        for j, (labels, probs) in enumerate(runs.values()):
            multiclass |= probs.shape[1] > 2
            truth, score = _binary_view(labels, probs)
            if truth.min() == truth.max():
                continue
            fpr, tpr, _ = roc_curve(truth, score)
            precision, recall, _ = precision_recall_curve(truth, score)
            aurocs.append(auc(fpr, tpr))
            aps.append(average_precision_score(truth, score))
            base_rate = truth.mean()
            alpha = 0.9 if j == 0 else 0.45
            ax_roc.plot(fpr, tpr, color=colour, lw=1.4, alpha=alpha)
            ax_pr.plot(recall, precision, color=colour, lw=1.4, alpha=alpha, drawstyle="steps-post")
        runs_text = f", {len(aurocs)} runs" if len(aurocs) > 1 else ""
        ax_roc.plot([], [], color=colour, lw=2, label=f"{model}: {format_mean_sd(*_mean_sd(aurocs))}{runs_text}")
        ax_pr.plot([], [], color=colour, lw=2, label=f"{model}: {format_mean_sd(*_mean_sd(aps))}{runs_text}")
    ax_roc.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="chance")
    if base_rate is not None:
        ax_pr.axhline(base_rate, color="grey", ls="--", lw=0.8, label="chance (share of positives)")
    kind = " (one-vs-rest, micro-average)" if multiclass else ""
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
               title=f"ROC{kind}")  # fmt: skip
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title=f"precision-recall{kind}")
    ax_roc.legend(title="model: AUROC", fontsize=8, title_fontsize=8, loc="lower right")
    ax_pr.legend(title="model: average precision", fontsize=8, title_fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title)
    save(fig, path)


def _mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def plot_confusion(models: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], path: PathLike,
                   names: Sequence[str], title: str = "") -> None:  # fmt: skip
    """One confusion matrix per model (summed over runs): colour = share of the true class, text = count."""
    n = len(names)
    fig, axes = figure(1, len(models), figsize=(3.3 * len(models) + 1.0, 3.4 + 0.25 * n), squeeze=False,
                       constrained_layout=True)  # fmt: skip
    image = None
    for ax, (model, runs) in zip(axes[0], models.items()):
        matrix = np.zeros((n, n), dtype=np.int64)
        for labels, probs in runs.values():
            np.add.at(matrix, (labels, probs.argmax(axis=1)), 1)
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (r, c), count in np.ndenumerate(matrix):
            ax.text(c, r, f"{count:,}\n{share[r, c]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if share[r, c] > 0.6 else "black")  # fmt: skip
        ax.set_xticks(range(n), names, rotation=30 if n > 2 else 0, ha="right" if n > 2 else "center")
        ax.set_yticks(range(n), names)
        ax.set(xlabel="predicted class", ylabel="true class",
               title=f"{model}" + (f" ({len(runs)} runs)" if len(runs) > 1 else ""))  # fmt: skip
        ax.grid(False)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="share of the true class")
    if title:
        fig.suptitle(title)
    save(fig, path)


# --------------------------------------------------------------------------- any TSV as a page


def tsv_html(path: PathLike, *, intro: str = "", caption: str | None = None) -> str:
    """Body of a page showing a TSV file (header row first) as a table; numbers right-aligned.

    The report displays images and HTML but not TSV, so a table a reader needs goes
    through this (with :func:`write_html`).
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise InputError(path, "empty table")
    header, body = rows[0], rows[1:]

    def value(text: str) -> Any:
        number = _number(text)
        if number is None:
            return text
        return int(number) if re.fullmatch(r"-?\d+", text.strip()) else number

    values = [[value(cell) for cell in row] for row in body]
    numeric = [bool(values) and all(isinstance(row[i], (int, float)) or row[i] in ("", None)
                                    for row in values if i < len(row)) for i in range(len(header))]  # fmt: skip
    table = html_table(header, values, numeric=numeric, caption=caption)
    return (note(intro) if intro else "") + table
