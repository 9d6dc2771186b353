"""Task settings: one frozen dataclass per task type (and per negative type), from the ``tasks:`` config.

:func:`task_from_config` turns one ``tasks:`` entry (schema defaults already
filled in) and its resolved input files into :data:`TaskSettings`, which
:mod:`dnabert.data.datasets` builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnabert.data import coordinates
from dnabert.data.tables import infer_format
from dnabert.io import InputError


@dataclass(frozen=True)
class ShuffleSettings:
    """Dinucleotide shuffles of the positives."""

    ratio: float = 1.0


@dataclass(frozen=True)
class GCMatchedSettings:
    """Genomic background windows matched to the positives' GC histogram."""

    ratio: float = 1.0
    bins: int = 50
    exclude_flank: int = 1000


@dataclass(frozen=True)
class FlankSettings:
    """Windows shifted by +-``offset`` bp from the positives (ratio at most 2)."""

    ratio: float = 1.0
    offset: int = 500


@dataclass(frozen=True)
class SubstitutionSettings:
    """DNABERT-Prom negatives: ``replaced`` of ``pieces`` parts replaced by random bases."""

    ratio: float = 1.0
    pieces: int = 20
    replaced: int = 12


@dataclass(frozen=True)
class NegativeSettings:
    shuffle: ShuffleSettings | None = None
    gc_matched: GCMatchedSettings | None = None
    flank: FlankSettings | None = None
    substitution: SubstitutionSettings | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> NegativeSettings:
        cfg = cfg or {}
        kinds = {"shuffle": ShuffleSettings, "gc_matched": GCMatchedSettings, "flank": FlankSettings,
                 "substitution": SubstitutionSettings}
        return cls(**{key: kinds[key](**value) for key, value in cfg.items() if value is not None})


@dataclass(frozen=True)
class PeaksTask:
    name: str
    peaks: str
    format: str = "narrowPeak"
    window: int = 101
    top: int | None = None
    min_qvalue: float | None = None
    max_n_fraction: float = 0.0
    negatives: NegativeSettings = field(default_factory=lambda: NegativeSettings(shuffle=ShuffleSettings()))


@dataclass(frozen=True)
class PromotersTask:
    name: str
    annotation: str
    format: str = "gtf"
    upstream: int = 249
    downstream: int = 50
    tata: str = "all"
    tata_pvalue: float = 1e-3
    tata_region: tuple[int, int] = (-40, -10)
    max_n_fraction: float = 0.0
    negatives: NegativeSettings = field(default_factory=lambda: NegativeSettings(substitution=SubstitutionSettings()))


@dataclass(frozen=True)
class NonspliceSettings:
    ratio: float = 0.5
    decoy_fraction: float = 0.5
    min_distance: int = 50


@dataclass(frozen=True)
class SpliceTask:
    name: str
    annotation: str
    window: int = 400
    max_n_fraction: float = 0.0
    nonsplice: NonspliceSettings = field(default_factory=NonspliceSettings)


@dataclass(frozen=True)
class TableFile:
    path: str
    format: str
    split: str | None = None
    label: int | None = None
    source: str = ""  # name in the source column (default: the file name)


@dataclass(frozen=True)
class TableTask:
    name: str
    files: tuple[TableFile, ...]
    dev: float = 0.1
    test: float = 0.1
    dedup: str = "auto"  # see dnabert.data.duplicates

    @property
    def given_splits(self) -> bool:
        return any(f.split for f in self.files)


@dataclass(frozen=True)
class CoordinateFile:
    path: str
    format: str  # csv (Genomic Benchmarks) or bed
    split: str | None = None
    class_name: str | None = None  # the class of every row (a Genomic Benchmarks file), else the label column


@dataclass(frozen=True)
class CoordinatesTask:
    """Labelled genome intervals; files without a split follow the chromosome hold-out."""

    name: str
    files: tuple[CoordinateFile, ...]
    classes: tuple[str, ...] | None = None
    dev_fraction: float = 0.1
    dedup: str = "auto"

    @property
    def given_splits(self) -> bool:
        return any(f.split for f in self.files)


TaskSettings = PeaksTask | PromotersTask | SpliceTask | TableTask | CoordinatesTask


def task_from_config(name: str, cfg: Mapping[str, Any], files: Mapping[str, str]) -> TaskSettings:
    """Settings for one ``tasks:`` entry (schema defaults already filled in); ``files`` maps input roles to paths."""
    kind = cfg["type"]
    common = {"max_n_fraction": cfg.get("max_n_fraction", 0.0)}
    if kind == "peaks":
        return PeaksTask(name, files["peaks"], cfg.get("format", "narrowPeak"), cfg.get("window", 101),
                         cfg.get("top"), cfg.get("min_qvalue"), negatives=NegativeSettings.from_config(
                             cfg.get("negatives", {"shuffle": {}})), **common)
    if kind == "promoters":
        return PromotersTask(
            name, files["annotation"], cfg.get("format", "gtf"), cfg.get("upstream", 249),
            cfg.get("downstream", 50), cfg.get("tata", "all"), cfg.get("tata_pvalue", 1e-3),
            tuple(cfg.get("tata_region", (-40, -10))),
            negatives=NegativeSettings.from_config(cfg.get("negatives", {"substitution": {}})), **common)
    if kind == "splice":
        return SpliceTask(name, files["annotation"], cfg.get("window", 400),
                          nonsplice=NonspliceSettings(**cfg.get("nonsplice", {})), **common)
    if kind == "table":
        table_files = []
        for i, spec in enumerate(cfg["files"]):
            path = files[f"table_{i}"]
            fmt = spec.get("format") or infer_format(spec.get("path") or spec.get("url") or path)
            if fmt is None:
                raise InputError(None, "cannot tell the table format from the file name; set format:",
                                 field=f"tasks.{name}.files[{i}].format")
            origin = spec.get("path") or spec.get("url") or spec.get("simulated") or path
            table_files.append(TableFile(path, fmt, spec.get("split"), spec.get("label"),
                                         origin.rstrip("/").rsplit("/", 1)[-1]))
        split = cfg.get("random_split", {})
        return TableTask(name, tuple(table_files), split.get("dev", 0.1), split.get("test", 0.1),
                         cfg.get("dedup", "auto"))
    if kind == "coordinates":
        return _coordinates_task(name, cfg, files)
    raise ValueError(f"tasks.{name}.type: unknown task type {kind!r}")


def _coordinates_task(name: str, cfg: Mapping[str, Any], files: Mapping[str, str]) -> CoordinatesTask:
    """A ``coordinates`` entry whose ``folder:`` (if any) the config checks already turned into ``files:``."""
    coordinate_files = []
    for i, spec in enumerate(cfg["files"]):
        path = files[f"table_{i}"]
        fmt = spec.get("format") or coordinates.infer_format(spec.get("path") or spec.get("url") or path)
        if fmt is None:
            raise InputError(None, "cannot tell the coordinate format from the file name; set format:",
                             field=f"tasks.{name}.files[{i}].format")
        cls = spec.get("class")
        coordinate_files.append(CoordinateFile(path, fmt, spec.get("split"), None if cls is None else str(cls)))
    classes = cfg.get("classes")
    return CoordinatesTask(name, tuple(coordinate_files), None if classes is None else tuple(map(str, classes)),
                           cfg.get("dev_fraction", 0.1), cfg.get("dedup", "auto"))
