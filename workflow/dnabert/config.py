"""Config checks run by the Snakefile at start: schema validation and semantic checks.

Imports only the standard library and Snakemake's own dependencies (jsonschema,
yaml), because it runs in whatever Python runs Snakemake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import yaml

#: Files the genome simulation writes under resources/simulated/{genome}/ (peaks added per TF).
SIMULATED_FILES = ("genome.fa.gz", "genes.gtf.gz", "blacklist.bed.gz", "truth.tsv")
SOURCE_KEYS = ("path", "url", "simulated")


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: list[str], config_files: list[str] | None = None):
        self.problems = problems
        where = f" ({', '.join(config_files)})" if config_files else ""
        super().__init__(f"invalid configuration{where}:\n  - " + "\n  - ".join(problems))


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
    problems = list(semantic_problems(config))
    if problems:
        raise ConfigError(problems, config_files)


def _source_problems(spec: dict, key: str, simulated: bool) -> Iterator[str]:
    given = [name for name in SOURCE_KEYS if name in spec]
    if len(given) != 1:
        yield f"{key}: give exactly one of {', '.join(SOURCE_KEYS)} (found: {', '.join(given) or 'none'})"
        return
    kind = given[0]
    if kind == "url" and not (spec.get("md5") or spec.get("sha256")):
        yield f"{key}.url: downloads must be checksummed: add md5: or sha256:"
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


def source_file(spec: dict, genome: str, download_name: str) -> str:
    """The file a source mapping resolves to: the path itself, a download target, or a simulated file."""
    if "path" in spec:
        return spec["path"]
    if "url" in spec:
        return f"resources/download/{genome}/{download_name}"
    if "simulated" in spec:
        return f"resources/simulated/{genome}/{spec['simulated']}"
    if "simulate" in spec:
        return f"resources/simulated/{genome}/genome.fa.gz"
    raise KeyError(f"not a source: {spec}")
