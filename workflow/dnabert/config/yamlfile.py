"""Strict reading of config files: duplicate keys and syntax errors named by file and line.

Snakemake reads config files itself (JSON, else YAML), keeps the last value of a
duplicated key and reports a YAML syntax error without file or line. The
Snakefile therefore re-reads every config file of the run with
:func:`config_file_problems` before validating the config.

Imports only the standard library and PyYAML (a Snakemake dependency). As a
command, ``python -m dnabert.config.yamlfile FILE...`` prints the problems of
each file (Snakemake reads a ``--configfile`` before the workflow starts, so for a
syntax error there it can only say "not valid JSON or YAML").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import yaml

from dnabert.io import ConfigError, InputError, PathLike


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def _duplicates(node: yaml.Node, path: tuple[str, ...], source: PathLike) -> Iterator[InputError]:
    """Duplicate keys of every mapping under ``node`` (nested keys named by their dotted path)."""
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                line = key_node.start_mark.line + 1
                if key in first:
                    yield InputError(
                        source,
                        f"duplicate key (first given at line {first[key]}); remove one of them",
                        line=line,
                        field=_dotted((*path, key)),
                    )
                else:
                    first[key] = line
            yield from _duplicates(value_node, (*path, key if key is not None else "?"), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicates(item, (*path, str(index)), source)


def _syntax_error(source: PathLike, error: yaml.YAMLError) -> InputError:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    context_mark = getattr(error, "context_mark", None)
    where = f" (column {mark.column + 1})" if mark is not None else ""
    if context:
        at = f" at line {context_mark.line + 1}" if context_mark is not None else ""
        where += f", {context}{at}"
    hint = "; indent with spaces, not tabs" if "\\t" in problem or "\t" in problem else ""
    return InputError(source, f"not valid YAML: {problem}{where}{hint}", line=mark.line + 1 if mark else None)


def _json_duplicates(text: str, source: PathLike) -> list[InputError]:
    found: list[InputError] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                found.append(InputError(source, "duplicate key in a JSON object; remove one of them", field=key))
            seen.add(key)
        return dict(items)

    json.loads(text, object_pairs_hook=pairs)
    return found


def file_problems(path: PathLike) -> list[InputError]:
    """Problems of one config file: unreadable, a syntax error, duplicate keys, not a mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [InputError(path, "config file not found")]
    except UnicodeDecodeError as error:
        line = Path(path).read_bytes()[: error.start].count(b"\n") + 1
        return [InputError(path, f"not UTF-8 text (byte 0x{error.object[error.start]:02x})", line=line)]
    try:  # Snakemake tries JSON first
        return _json_duplicates(text, path)
    except ValueError:
        pass
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return [_syntax_error(path, error)]
    if node is None:
        return [InputError(path, "empty config file")]
    if not isinstance(node, yaml.MappingNode):
        return [InputError(path, "a config file must be a mapping of keys at the top level", line=node.start_mark.line + 1)]
    return list(_duplicates(node, (), path))


def config_file_problems(paths: Iterable[PathLike]) -> list[str]:
    """The problems of every file, one line each (``file:line: field 'x': message``)."""
    return [str(problem) for path in paths for problem in file_problems(path)]


def check_config_files(paths: Iterable[PathLike]) -> None:
    """Raise :class:`~dnabert.io.ConfigError` listing every problem of the config files, if any."""
    paths = [str(path) for path in paths]
    problems = config_file_problems(paths)
    if problems:
        raise ConfigError(problems, paths)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dnabert.config.yamlfile FILE...``: print each problem; exit 1 if there is one."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m dnabert.config.yamlfile CONFIG.yaml...", file=sys.stderr)
        return 2
    problems = config_file_problems(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
