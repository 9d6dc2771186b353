"""Provenance for the report's overview page: what ran, on which inputs, with which software.

* The configuration in brief (:func:`config_summary`) and in full.
* Where every input came from (:func:`describe_source`) with its configured checksum,
  and the SHA-256 of every file the run read (:func:`sha256sum`), models file by file
  with their Hub id and commit (:func:`model_rows`).
* ENCODE accessions (:func:`encode_accessions`), the JASPAR release and matrices
  (:func:`jaspar_releases`, :func:`jaspar_matrices`).
* Package versions (:func:`package_versions`) and the workflow's git commit (:func:`git_revision`).

:func:`write_overview_page` renders ``templates/report/overview.html.j2``.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from dnabert.html import table, write_page
from dnabert.io import PathLike, file_digest


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
    """SHA-256 of a file, as ``sha256sum`` prints it."""
    return file_digest(path, "sha256")


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


def _task_sources(config: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(task and role, source mapping) of every source a task's config names."""
    for name, task in (config.get("tasks") or {}).items():
        for role in ("peaks", "annotation", "tss", "blacklist"):
            spec = task.get(role)
            if isinstance(spec, Mapping):
                yield f"{name} {role}", spec
        for i, spec in enumerate(task.get("files") or []):
            if isinstance(spec, Mapping):
                yield f"{name} file {i + 1}", spec


def source_rows(config: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(input, where it came from, configured checksum) of the genome, blacklist and every task source."""
    genome = config.get("genome") or {}
    source, checksum = describe_source(genome)
    rows = [("genome source", source, checksum or ("simulated by the workflow" if genome.get("simulate") else ""))]
    blacklist = genome.get("blacklist")
    if blacklist:
        rows.append(("blacklist source", *describe_source(blacklist)))
    for task, spec in _task_sources(config):
        rows.append((f"{task} source", *describe_source(spec)))
    return rows


def file_rows(inputs: Mapping[str, PathLike]) -> list[tuple[str, str, str]]:
    """(name, path, SHA-256 or ``missing``) of every file the run read; a directory (a model) file by file."""
    rows = []
    for name, path in inputs.items():
        path = Path(path)
        if path.is_dir():
            rows += [(f"{name}: {file.name}", str(file), sha256sum(file)) for file in sorted(path.iterdir())
                     if file.is_file()]  # fmt: skip
            continue
        rows.append((name, str(path), sha256sum(path) if path.is_file() else "missing"))
    return rows


def model_rows(inputs: Mapping[str, PathLike]) -> list[tuple[str, str, str]]:
    """(model, where it came from, revision) of every model directory among the inputs.

    A model fetched from the Hugging Face Hub (``resources/models/<org--name>/``) carries a
    ``provenance.json`` (:func:`dnabert.lm.hub.fetch_model`) with its id and the commit it resolved to.
    """
    rows = []
    for name, path in inputs.items():
        path = Path(path)
        if not path.is_dir():
            continue
        record = path / "provenance.json"
        if record.is_file():
            data = json.loads(record.read_text())
            asked = f" (asked: {data['revision']})" if data.get("revision") else ""
            rows.append((name, f"Hugging Face Hub {data['repo_id']}", f"commit {data['commit']}{asked}"))
        else:
            rows.append((name, f"local directory {path}", ""))
    return rows


def jaspar_rows(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The configured JASPAR releases, the pyjaspar version that bundles them, and every matrix id named."""
    version = package_versions(["pyjaspar"])["pyjaspar"]
    rows = [(key, value) for key, value in jaspar_releases(config)] + [("pyjaspar (bundles JASPAR offline)", version)]
    rows += [(f"matrix: {what}", matrix) for what, matrix in jaspar_matrices(config)]
    return rows


def overview_context(
    config: Mapping[str, Any],
    *,
    configfiles: Sequence[str],
    inputs: Mapping[str, PathLike],
    workflow_dir: PathLike,
    snakemake_version: str | None = None,
) -> dict[str, Any]:
    """What ``report/overview.html.j2`` shows: configuration, inputs with checksums, versions, commit."""
    genome = config.get("genome") or {}
    accessions = encode_accessions(config)
    jaspar = jaspar_rows(config)
    versions = package_versions()
    if snakemake_version:
        versions["snakemake"] = snakemake_version
    revision = git_revision(workflow_dir)
    if revision is not None:
        state = "with uncommitted changes" if revision["dirty"] else "clean"
        revision = table(["", ""], [("git commit", revision["commit"]), ("last commit", revision["subject"]),
                                    ("working tree", state), ("workflow directory", str(workflow_dir))])  # fmt: skip
    return {
        "name": config["genome"]["name"],
        "summary": table(["setting", "value"], config_summary(config)),
        "configfiles": list(configfiles),
        "sources": table(["input", "source", "configured checksum"], source_rows(config)),
        "files": table(["file", "path", "SHA-256"], file_rows(inputs), caption="Files read by this run"),
        "models": table(["model", "source", "revision"], models) if (models := model_rows(inputs)) else None,
        "accessions": table(["task", "config key", "accession"], accessions) if accessions else None,
        "simulated": bool(genome.get("simulate")),
        "jaspar": table(["setting", "value"], jaspar),
        "versions": table(["package", "version"], versions.items()),
        "revision": revision,
        "workflow_dir": str(workflow_dir),
        "config_json": json.dumps(config, indent=2, sort_keys=True, default=str),
    }


def write_overview_page(path: PathLike, config: Mapping[str, Any], **provenance: Any) -> None:
    """The overview page (see :func:`overview_context` for the keyword arguments)."""
    write_page(path, "report/overview.html.j2", **overview_context(config, **provenance))
