"""JASPAR matrices for the planted sites (offline, bundled with pyjaspar) and sampling sites from them."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dnabert.data.simulate.checks import fail

if TYPE_CHECKING:
    from dnabert.data.simulate.settings import SimulationSettings

TATA_MOTIF = "MA0108.2"  # JASPAR TBP


@dataclass(frozen=True, eq=False)
class Motif:
    """A JASPAR matrix as per-position base probabilities (rows: positions; columns: A, C, G, T)."""

    matrix_id: str
    name: str
    probs: np.ndarray

    @property
    def length(self) -> int:
        return int(self.probs.shape[0])


@functools.lru_cache(maxsize=None)
def _jaspar(release: str) -> Any:
    import pyjaspar

    releases = getattr(pyjaspar, "jaspar_releases", {})
    if release not in releases:
        raise fail("jaspar_release", f"unknown JASPAR release {release!r}; pyjaspar bundles {sorted(releases)}")
    return pyjaspar.jaspardb(release=release)


@functools.lru_cache(maxsize=None)
def fetch_motif(matrix_id: str, release: str, field_name: str = "tfs.motif") -> Motif:
    """Fetch a matrix from the offline JASPAR release bundled with pyjaspar."""
    db = _jaspar(release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motif = db.fetch_motif_by_id(matrix_id)
    if motif is None:
        raise fail(field_name, f"JASPAR matrix {matrix_id!r} does not exist in {release}")
    counts = np.array([motif.counts[base] for base in "ACGT"], dtype=float).T
    probs = counts / counts.sum(axis=1, keepdims=True)
    probs.setflags(write=False)
    return Motif(matrix_id=str(motif.matrix_id), name=str(motif.name), probs=probs)


def load_motifs(settings: SimulationSettings) -> dict[str, Motif]:
    """Matrices keyed by JASPAR id: every factor's motif plus the TBP matrix for TATA boxes."""
    motifs = {TATA_MOTIF: fetch_motif(TATA_MOTIF, settings.jaspar_release, "jaspar_release")}
    for i, tf in enumerate(settings.tfs):
        motifs[tf.motif] = fetch_motif(tf.motif, settings.jaspar_release, f"tfs[{i}].motif")
    return motifs


def sample_site(rng: np.random.Generator, probs: np.ndarray, count: int = 1) -> np.ndarray:
    """``count`` sites drawn column by column from a probability matrix, as base codes, shape (count, length)."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random((count, probs.shape[0], 1))
    return (u > cum[None, :, :]).sum(axis=2).astype(np.uint8)
