"""Simulation settings: :class:`SimulationSettings` and :class:`TFSpec`, validated, from the config."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnabert.data.simulate.checks import FIELD, check_count, check_fraction, fail, is_int
from dnabert.data.simulate.motifs import load_motifs
from dnabert.io import InputError, PathLike

MIN_CHROM = 50_000

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MOTIF_RE = re.compile(r"^[A-Z]{2}[0-9]{4}(\.[0-9]+)?$")


@dataclass(frozen=True)
class TFSpec:
    """One simulated ChIP-seq experiment: factor name, JASPAR matrix id, peaks."""

    name: str
    motif: str
    peaks: int = 500
    motif_fraction: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise fail(
                "tfs.name",
                f"factor name must match {_NAME_RE.pattern} (used in file names), got {self.name!r}",
            )
        if not isinstance(self.motif, str) or not _MOTIF_RE.match(self.motif):
            raise fail(
                "tfs.motif", f"{self.name}: JASPAR matrix id like 'MA0139.2' expected, got {self.motif!r}"
            )
        check_count("tfs.peaks", self.peaks)
        check_fraction("tfs.motif_fraction", self.motif_fraction)


def _default_chromosomes() -> dict[str, int]:
    return {"chr1": 1_200_000, "chr2": 1_000_000, "chr3": 800_000, "chr4": 600_000}


def _default_tfs() -> tuple[TFSpec, ...]:
    return (TFSpec("CTCF", "MA0139.2", 800, 0.8), TFSpec("REST", "MA0138.3", 600, 0.7))


@dataclass(frozen=True)
class SimulationSettings:
    """Everything that determines the simulated genome; same settings, same bytes."""

    seed: int = 42
    chromosomes: dict[str, int] = field(default_factory=_default_chromosomes)
    gc: float = 0.41
    cpg_ratio: float = 0.25
    repeat_fraction: float = 0.35
    n_gaps: int = 2
    genes: int = 80
    tata_fraction: float = 0.3
    tfs: tuple[TFSpec, ...] = field(default_factory=_default_tfs)
    jaspar_release: str = "JASPAR2024"
    blacklist_regions: int = 3

    def __post_init__(self) -> None:
        check_count("seed", self.seed)
        self._check_chromosomes()
        object.__setattr__(self, "chromosomes", {str(k): int(v) for k, v in self.chromosomes.items()})
        check_fraction("gc", self.gc, 0.2, 0.8)
        check_fraction("cpg_ratio", self.cpg_ratio)
        check_fraction("repeat_fraction", self.repeat_fraction, 0.0, 0.8)
        check_fraction("tata_fraction", self.tata_fraction)
        for name in ("n_gaps", "genes", "blacklist_regions"):
            check_count(name, getattr(self, name))
        tfs = tuple(self.tfs)
        if not all(isinstance(tf, TFSpec) for tf in tfs):
            raise fail("tfs", "must be TFSpec objects (use SimulationSettings.from_config for mappings)")
        names = [tf.name for tf in tfs]
        if len(set(names)) != len(names):
            raise fail("tfs", f"factor names must be unique, got {names}")
        object.__setattr__(self, "tfs", tfs)
        if not isinstance(self.jaspar_release, str):
            raise fail("jaspar_release", f"must be a string like 'JASPAR2024', got {self.jaspar_release!r}")

    def _check_chromosomes(self) -> None:
        if not isinstance(self.chromosomes, Mapping) or not self.chromosomes:
            raise fail("chromosomes", "must be a non-empty mapping of name to length")
        for name, length in self.chromosomes.items():
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise fail("chromosomes", f"bad chromosome name {name!r}")
            if not is_int(length) or length < MIN_CHROM:
                raise fail(f"chromosomes.{name}", f"length must be an integer >= {MIN_CHROM}, got {length!r}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, source: PathLike | None = None) -> SimulationSettings:
        """Build settings from the ``genome.simulate`` config mapping; missing keys take defaults.

        Unknown keys, bad values and JASPAR ids missing from the release raise
        :class:`InputError` naming the field (and ``source``, the config file, if given).
        """
        try:
            settings = cls._from_mapping({} if cfg is None else cfg)
            load_motifs(settings)
        except InputError as err:
            if source is None:
                raise
            raise InputError(source, err.reason, field=err.field) from err
        return settings

    @classmethod
    def _from_mapping(cls, cfg: Mapping[str, Any]) -> SimulationSettings:
        if not isinstance(cfg, Mapping):
            raise InputError(None, f"must be a mapping, got {type(cfg).__name__}", field=FIELD)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise fail(str(unknown[0]), f"unknown key; expected one of {sorted(known)}")
        kwargs = dict(cfg)
        if "tfs" in kwargs:
            kwargs["tfs"] = tuple(_tf_from_mapping(i, item) for i, item in enumerate(kwargs["tfs"] or ()))
        if "chromosomes" in kwargs and not isinstance(kwargs["chromosomes"], Mapping):
            raise fail("chromosomes", "must be a mapping of name to length")
        return cls(**kwargs)


def _tf_from_mapping(index: int, item: Any) -> TFSpec:
    where = f"tfs[{index}]"
    if isinstance(item, TFSpec):
        return item
    if not isinstance(item, Mapping):
        raise fail(where, f"must be a mapping with name, motif, peaks, motif_fraction; got {item!r}")
    known = {f.name for f in dataclasses.fields(TFSpec)}
    unknown = sorted(set(item) - known)
    if unknown:
        raise fail(f"{where}.{unknown[0]}", f"unknown key; expected one of {sorted(known)}")
    missing = [k for k in ("name", "motif") if k not in item]
    if missing:
        raise fail(f"{where}.{missing[0]}", "required key missing")
    try:
        return TFSpec(**item)
    except InputError as err:
        raise fail(f"{where}.{(err.field or '').rsplit('.', 1)[-1]}", err.reason) from err
