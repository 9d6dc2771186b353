"""The ``interpret:`` section of the config as one settings object (see config/schema/config.schema.yaml).

Each rule passes only the keys its step reads (so changing one step's settings reruns
only that step); keys left out take the defaults here, which are the schema's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dnabert.interpret.heads import HeadSettings
from dnabert.io import InputError

#: The motif engines: DNABERT's attention-region discovery, and TF-MoDISco on integrated gradients.
ENGINES = ("attention", "modisco")


def _layer(value: Any) -> int | str:
    return value if value == "auto" else int(value)


def _heads(value: Any) -> str | tuple[int, ...]:
    if value is None:  # DNABERT's default, as in earlier configs
        return "all"
    if isinstance(value, str):
        return value
    return tuple(int(h) for h in value)


@dataclass(frozen=True)
class InterpretSettings:
    """What the interpretation steps read from ``interpret:``."""

    splits: tuple[str, ...] = ("train", "dev", "test")
    max_sequences: int = 10000
    batch_size: int = 64
    heads: HeadSettings = field(default_factory=HeadSettings)
    selection_sequences: int = 200
    heatmap_sequences: int = 20
    attribution_sequences: int = 200
    attribution_steps: int = 4
    attribution_baseline: str = "shuffle"
    attribution_baselines: int = 2
    motifs: Mapping[str, Any] = field(default_factory=dict)
    modisco: Mapping[str, Any] = field(default_factory=dict)
    jaspar: Mapping[str, Any] = field(default_factory=dict)
    qvalue: float = 0.05
    seed: int = 0

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int = 0) -> InterpretSettings:
        """Settings from (part of) the ``interpret:`` section; ``seed`` seeds every sample."""
        attention = dict(section.get("attention", {}))
        selection = dict(attention.get("selection", {}))
        attribution = dict(section.get("attribution", {}))
        unknown = sorted(set(selection) - {"sequences", "window", "min_auroc"})
        if unknown:
            raise InputError(None, f"unknown key(s) {', '.join(unknown)}", field="interpret.attention.selection")
        heads = HeadSettings(layer=_layer(attention.get("layer", "auto")), heads=_heads(attention.get("heads", "auto")),
                             window=int(selection.get("window", HeadSettings.window)),
                             min_auroc=float(selection.get("min_auroc", HeadSettings.min_auroc)))  # fmt: skip
        return cls(
            splits=tuple(section.get("splits", cls.splits)),
            max_sequences=int(section.get("max_sequences", cls.max_sequences)),
            batch_size=int(section.get("batch_size", cls.batch_size)),
            heads=heads,
            selection_sequences=int(selection.get("sequences", cls.selection_sequences)),
            heatmap_sequences=int(attention.get("heatmap_sequences", cls.heatmap_sequences)),
            attribution_sequences=int(attribution.get("sequences", cls.attribution_sequences)),
            attribution_steps=int(attribution.get("steps", cls.attribution_steps)),
            attribution_baseline=str(attribution.get("baseline", cls.attribution_baseline)),
            attribution_baselines=int(attribution.get("baselines", cls.attribution_baselines)),
            motifs=dict(section.get("motifs", {})),
            modisco=dict(section.get("modisco", {})),
            jaspar=dict(section.get("jaspar", {})),
            qvalue=float(section.get("qvalue", cls.qvalue)),
            seed=seed,
        )
