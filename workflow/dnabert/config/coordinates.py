"""Coordinate tasks in the config: a Genomic Benchmarks folder becomes a list of files, and their checks.

Imports only the standard library: it runs in whatever Python runs Snakemake.

``tasks.<name>: {type: coordinates, folder: DIR}`` names a Genomic Benchmarks
dataset folder, ``DIR/{train,test}/{class}.csv.gz`` (``dev/`` too, if it has one).
:func:`expand_folders` replaces ``folder`` by the ``files:`` it holds, one entry
``{path, split, class}`` per file (sorted), so the rules see every file as an input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

SPLITS = ("train", "dev", "test")
SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".bed": "bed", ".bed.gz": "bed"}


def coordinate_format(name: str) -> str | None:
    """``csv`` or ``bed`` from a file name (``.gz`` allowed)."""
    lower = name.lower()
    return next((fmt for suffix, fmt in SUFFIXES.items() if lower.endswith(suffix)), None)


def folder_files(folder: str) -> list[dict]:
    """One file entry per ``{split}/{class}.csv[.gz]`` of a Genomic Benchmarks folder; ValueError if none."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"not a directory: {folder}")
    files = []
    for split in SPLITS:
        for path in sorted((root / split).glob("*.csv*")) if (root / split).is_dir() else []:
            if coordinate_format(path.name) == "csv":
                name = path.name[: -len(".csv.gz")] if path.name.endswith(".gz") else path.stem
                files.append({"path": str(path), "split": split, "class": name})
    missing = [split for split in ("train", "test") if not any(f["split"] == split for f in files)]
    if missing:
        raise ValueError(f"{folder} has no {' or '.join(missing)}/<class>.csv.gz files (Genomic Benchmarks layout: "
                         "{train,test}/{class}.csv.gz)")
    return files


def expand_folders(config: dict) -> list[str]:
    """Replace each coordinate task's ``folder`` by its ``files``; return the problems found."""
    problems = []
    for task, settings in (config.get("tasks") or {}).items():
        if not isinstance(settings, dict) or settings.get("type") != "coordinates":
            continue
        key = f"tasks.{task}"
        if ("folder" in settings) == ("files" in settings):
            problems.append(f"{key}: give exactly one of folder or files")
            continue
        if "folder" in settings:
            try:
                settings["files"] = folder_files(settings.pop("folder"))
            except ValueError as error:
                problems.append(f"{key}.folder: {error}")
    return problems


def coordinate_problems(key: str, settings: dict) -> Iterator[str]:
    """Checks on one coordinates task's files and classes that the schema cannot express."""
    for i, spec in enumerate(settings.get("files") or []):
        name = spec.get("path") or spec.get("url") or spec.get("simulated") or ""
        fmt = spec.get("format") or coordinate_format(name)
        if fmt is None:
            yield f"{key}.files.{i}: cannot tell the format from the file name: add format: (csv, bed)"
        elif fmt == "csv" and spec.get("class") is None:
            yield f"{key}.files.{i}: a Genomic Benchmarks CSV needs class: (every row of the file has it)"
    classes = settings.get("classes")
    if classes is not None:
        names = [str(c) for c in classes]
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            yield f"{key}.classes: listed twice: {', '.join(repeated)}"
        given = {str(spec["class"]) for spec in settings.get("files") or [] if spec.get("class") is not None}
        unknown = sorted(given - set(names))
        if unknown:
            yield f"{key}.classes: the files' classes {', '.join(unknown)} are not listed"


def uses_chromosome_splits(settings: dict) -> bool:
    """Whether a task's rows are split by the chromosome hold-out (``splits:``)."""
    kind = settings.get("type")
    if kind in ("peaks", "promoters", "splice"):
        return True
    if kind == "coordinates":
        return any(not spec.get("split") for spec in settings.get("files") or [])
    return False
