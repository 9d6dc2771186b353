"""Config checks run by the Snakefile at start: schema validation and semantic checks.

Imports only the standard library and Snakemake's own dependencies (jsonschema,
yaml), because it runs in whatever Python runs Snakemake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import yaml

from dnabert.config.coordinates import coordinate_problems, expand_folders, uses_chromosome_splits
from dnabert.io import ConfigError  # noqa: F401 (re-exported: raised by validate_config)

#: Files the genome simulation writes under resources/simulated/{genome}/ (peaks added per TF).
SIMULATED_FILES = ("genome.fa.gz", "genes.gtf.gz", "blacklist.bed.gz", "truth.tsv")
SOURCE_KEYS = ("path", "url", "simulated")
#: Task inputs may also name an ENCODE file accession (peaks).
TASK_SOURCE_KEYS = ("path", "url", "simulated", "encode")
ENCODE_URL = "https://www.encodeproject.org/files/{accession}/@@download/{accession}.bed.gz"
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "dnabert_tsv", ".fa": "fasta", ".fasta": "fasta", ".fna": "fasta"}

#: Snakemake's own logger, so the start-up warnings appear among Snakemake's messages.
log = logging.getLogger("snakemake.logging")


def _dotted(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line per schema error, naming the key and what was expected."""
    where = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = "" if where == "(top level)" else f"{where}."
        keys = ", ".join(f"'{prefix}{key}'" for key in unknown)
        return f"unknown key {keys}; allowed here: {', '.join(allowed)}"
    if error.validator == "type":
        return f"{where}: expected {error.validator_value}, got {error.instance!r}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "oneOf" and error.context:
        best = jsonschema.exceptions.best_match(error.context)
        return f"{_dotted(list(error.absolute_path) + list(best.relative_path))}: {best.message}"
    return f"{where}: {error.message}"


def schema_problems(config: dict, schema_path: str | Path) -> list[str]:
    """All schema violations of ``config``, described for a user."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(error) for error in errors]


def validate_config(config: dict, schema_path: str | Path, config_files: list[str] | None = None) -> None:
    """Validate against the schema, fill in defaults, then run the semantic checks."""
    from snakemake.utils import validate

    problems = schema_problems(config, schema_path)
    if problems:
        raise ConfigError(problems, config_files)
    validate(config, str(schema_path), set_default=True)
    problems = expand_folders(config) or list(semantic_problems(config))
    if problems:
        raise ConfigError(problems, config_files)
    for key, url, target in unverified_downloads(config):
        log.warning(
            f"WARNING: {key}: unverified download (unverified: true, no checksum): {url} -> {target}. "
            f"Its sha256 will be written to {target}.sha256; pin it in the config as sha256: <digest>."
        )


def _source_problems(
    spec: dict, key: str, simulated: bool, keys: tuple[str, ...] = SOURCE_KEYS
) -> Iterator[str]:
    given = [name for name in keys if name in spec]
    if len(given) != 1:
        yield f"{key}: give exactly one of {', '.join(keys)} (found: {', '.join(given) or 'none'})"
        return
    kind = given[0]
    checksummed = bool(spec.get("md5") or spec.get("sha256"))
    if kind in ("url", "encode") and not checksummed and not spec.get("unverified"):
        yield (f"{key}.{kind}: downloads must be checksummed: add md5: or sha256: "
               "(or, if no published checksum exists, unverified: true)")
    if spec.get("unverified") and checksummed:
        yield f"{key}.unverified: give either a checksum (md5/sha256) or unverified: true, not both"
    if spec.get("unverified") and kind not in ("url", "encode"):
        yield f"{key}.unverified: only for downloads (url or encode), not {kind}"
    if kind == "path" and not Path(spec["path"]).is_file():
        yield f"{key}.path: file not found: {spec['path']}"
    if kind == "simulated":
        if not simulated:
            yield f"{key}.simulated: only possible with genome.simulate"
        elif not (spec["simulated"] in SIMULATED_FILES or spec["simulated"].startswith("peaks/")):
            yield (f"{key}.simulated: {spec['simulated']!r} is not written by the simulation "
                   f"(one of {', '.join(SIMULATED_FILES)}, peaks/<TF>.narrowPeak.gz)")


def semantic_problems(config: dict) -> Iterator[str]:
    """Checks the schema cannot express: one source per input, files exist, regexes compile."""
    genome = config["genome"]
    given = [name for name in ("path", "url", "simulate") if name in genome]
    if len(given) != 1:
        yield f"genome: give exactly one of path, url or simulate (found: {', '.join(given) or 'none'})"
    elif given[0] != "simulate":
        yield from _source_problems(genome, "genome", simulated=False)
    elif genome.get("unverified"):
        yield "genome.unverified: only for downloads (url), not simulate"
    simulated = "simulate" in genome
    if simulated:
        names = [tf["name"] for tf in genome["simulate"]["tfs"]]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            yield f"genome.simulate.tfs: duplicate factor names: {', '.join(duplicated)}"
    regex = genome["chromosomes"]["exclude_regex"]
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as error:
            yield f"genome.chromosomes.exclude_regex: not a valid regular expression: {error}"
    if genome.get("blacklist") is not None:
        yield from _source_problems(genome["blacklist"], "genome.blacklist", simulated)
    yield from _split_problems(config)
    tfs = {tf["name"] for tf in genome["simulate"]["tfs"]} if simulated else set()
    for task, settings in config.get("tasks", {}).items():
        yield from _task_problems(task, settings, simulated, tfs)
    yield from _pretrain_problems(config.get("pretrain") or {})


def _pretrain_problems(pretrain: dict) -> Iterator[str]:
    """pretrain: heads divide the hidden size; a pretrained model directory exists."""
    model = pretrain.get("model") or {}
    if "hidden" in model and "heads" in model and model["hidden"] % model["heads"]:
        yield f"pretrain.model.hidden: {model['hidden']} is not divisible by heads ({model['heads']})"
    pretrained = pretrain.get("pretrained")
    if pretrained and not (Path(pretrained) / "config.json").is_file():
        yield f"pretrain.pretrained: no model directory with a config.json at {pretrained}"


def _split_problems(config: dict) -> Iterator[str]:
    """dev and test chromosomes: disjoint, and present in the genome where the config tells its chromosomes."""
    splits = config.get("splits")
    if not splits:
        return
    both = sorted(set(splits["dev"]) & set(splits["test"]))
    if both:
        yield f"splits: chromosomes in both dev and test: {', '.join(both)}"
    genome = config["genome"]
    known = None
    if "simulate" in genome:
        known = list(genome["simulate"]["chromosomes"])
    elif "path" in genome:
        known = indexed_chromosomes(genome["path"], genome["chromosomes"]["exclude_regex"])
    if genome["chromosomes"].get("include"):
        known = [c for c in genome["chromosomes"]["include"] if known is None or c in known]
    genomic = [t for t, settings in (config.get("tasks") or {}).items() if uses_chromosome_splits(settings)]
    if known is None or not genomic:
        return
    for name in ("dev", "test"):
        absent = [c for c in splits[name] if c not in known]
        if absent:
            yield f"splits.{name}: not chromosomes of the genome: {', '.join(absent)} (genome: {', '.join(known)})"
    if not set(known) - set(splits["dev"]) - set(splits["test"]):
        yield "splits: no chromosome is left for train"


def _task_problems(task: str, settings: dict, simulated: bool, tfs: set[str]) -> Iterator[str]:
    """Checks on one tasks: entry that the schema cannot express."""
    key = f"tasks.{task}"
    for role, spec in task_sources({"tasks": {task: settings}}).items():
        where = f"{key}.{role[1]}".replace(".table_", ".files.")
        yield from _source_problems(spec, where, simulated, TASK_SOURCE_KEYS)
        sim = spec.get("simulated", "")
        if simulated and sim.startswith("peaks/") and sim.split("/", 1)[1].split(".")[0] not in tfs:
            yield f"{where}.simulated: no simulated factor {sim.split('/', 1)[1].split('.')[0]!r} (have: {', '.join(sorted(tfs))})"
    kind = settings["type"]
    if kind == "promoters":
        lo, hi = settings["tata_region"]
        if lo >= hi:
            yield f"{key}.tata_region: the first position must be before the second, got [{lo}, {hi}]"
    negatives = settings.get("negatives")
    if kind in ("peaks", "promoters") and not any((spec or {}).get("ratio", 1) > 0
                                                  for spec in (negatives or {}).values()):
        yield (f"{key}.negatives: no negatives (none given, or every ratio is 0): the task needs label-0 "
               "sequences, e.g. shuffle: {ratio: 1}")
    if kind == "coordinates":
        yield from coordinate_problems(key, settings)
    substitution = (settings.get("negatives") or {}).get("substitution")
    if substitution and substitution["replaced"] > substitution["pieces"]:
        yield f"{key}.negatives.substitution: replaced ({substitution['replaced']}) exceeds pieces ({substitution['pieces']})"
    if kind == "table":
        for i, spec in enumerate(settings["files"]):
            fmt = spec.get("format") or table_format(spec.get("path") or spec.get("url") or spec.get("simulated", ""))
            if fmt is None:
                yield f"{key}.files.{i}: cannot tell the format from the file name: add format: (csv, dnabert_tsv, fasta)"
            elif fmt == "fasta" and "label" not in spec:
                yield f"{key}.files.{i}: a FASTA file needs label: (all its sequences get it)"
            elif fmt != "fasta" and "label" in spec:
                yield f"{key}.files.{i}.label: only for FASTA files ({fmt} files have a label column)"
        fractions = settings["random_split"]
        if fractions["dev"] + fractions["test"] >= 1:
            yield f"{key}.random_split: dev + test must leave room for train, got {fractions['dev']} + {fractions['test']}"


def indexed_chromosomes(fasta: str, exclude_regex: str | None) -> list[str] | None:
    """The sequence names of a FASTA's ``.fai`` index (where there is one), less those the regex drops."""
    fai = Path(f"{fasta}.fai")
    if not fai.is_file():
        return None
    try:
        names = [line.split("\t", 1)[0] for line in fai.read_text().splitlines() if line.strip()]
        pattern = re.compile(exclude_regex) if exclude_regex else None
    except (OSError, UnicodeDecodeError, re.error):
        return None
    return [name for name in names if not (pattern and pattern.search(name))]


def table_format(name: str) -> str | None:
    """Table format from a file name: .csv, .tsv (DNABERT), .fa/.fasta/.fna; .gz allowed."""
    suffixes = Path(name).suffixes
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return TABLE_SUFFIXES.get(suffixes[-1].lower()) if suffixes else None


def unverified_downloads(config: dict) -> list[tuple[str, str, str]]:
    """Downloads marked ``unverified: true``, as (config key, url, local file) for the start-up warning."""
    genome = config["genome"]
    found = []
    for key, spec, name in (("genome", genome, "genome.fa.gz"),
                            ("genome.blacklist", genome.get("blacklist") or {}, "blacklist.bed.gz")):
        if spec.get("unverified") and "url" in spec:
            found.append((key, spec["url"], source_file(spec, genome["name"], name)))
    for (task, role), spec in task_sources(config).items():
        if spec.get("unverified") and ("url" in spec or "encode" in spec):
            key = f"tasks.{task}.{role}".replace(".table_", ".files.")
            found.append((key, resolve_download(spec)["url"], task_source_file(config, task, role)))
    return found


def task_sources(config: dict) -> dict[tuple[str, str], dict]:
    """Every input file a task reads, as (task, role) -> source mapping; roles name the rule's inputs."""
    sources: dict[tuple[str, str], dict] = {}
    for task, settings in (config.get("tasks") or {}).items():
        for role in ("peaks", "annotation"):
            if role in settings:
                sources[(task, role)] = settings[role]
        for i, spec in enumerate(settings.get("files") or []):
            sources[(task, f"table_{i}")] = spec
    return sources


def resolve_download(spec: dict) -> dict:
    """A source as the download rule takes it: ENCODE accessions become their download url."""
    if "encode" in spec:
        resolved = {"url": ENCODE_URL.format(accession=spec["encode"])}
        resolved.update({k: spec[k] for k in ("md5", "sha256", "unverified") if k in spec})
        return resolved
    return spec


def task_download_name(task: str, role: str, spec: dict) -> str:
    """File name under resources/download/{genome}/ for a task's url or ENCODE source."""
    url = resolve_download(spec)["url"]
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", url.rstrip("/").rsplit("/", 1)[-1]) or "file"
    return f"task.{task}.{role}.{base}"


def task_source_file(config: dict, task: str, role: str) -> str:
    """The local file behind one task input (path, download target or simulated file)."""
    spec = config["tasks"][task][role] if not role.startswith("table_") else config["tasks"][task]["files"][
        int(role.split("_")[1])]
    return source_file(spec, config["genome"]["name"], task_download_name(task, role, spec)
                       if ("url" in spec or "encode" in spec) else "")


def source_file(spec: dict, genome: str, download_name: str) -> str:
    """The file a source mapping resolves to: the path itself, a download target, or a simulated file."""
    if "path" in spec:
        return spec["path"]
    if "url" in spec or "encode" in spec:
        return f"resources/download/{genome}/{download_name}"
    if "simulated" in spec:
        return f"resources/simulated/{genome}/{spec['simulated']}"
    if "simulate" in spec:
        return f"resources/simulated/{genome}/genome.fa.gz"
    raise KeyError(f"not a source: {spec}")
