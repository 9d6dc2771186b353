"""Compile memelite's and modisco-lite's numba kernels once, into numba's on-disk cache.

Both libraries JIT-compile their kernels on first use: in a fresh environment the
first TOMTOM call takes about two minutes of CPU and the first TF-MoDISco run about
twenty seconds. numba keeps compiled kernels in ``NUMBA_CACHE_DIR`` when caching is
on for a kernel: memelite turns it on itself; modisco-lite only when it can fork a
compiling child (two or more numba threads), so :func:`cache_modisco_kernels` turns
it on for every kernel of the package. :func:`compile_kernels` (the workflow's
``interpret_numba_cache`` job) runs both on small synthetic inputs, so that every
motif job after it loads the kernels from the cache instead of compiling them, and
two jobs running side by side do not both compile.

``NUMBA_CACHE_DIR`` must be set before numba is first imported (the workflow's glue
sets it).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from importlib.metadata import version

import numpy as np

from dnabert.io import PathLike, write_text_atomic

log = logging.getLogger(__name__)


def cache_modisco_kernels() -> int:
    """Turn on numba's on-disk caching for every compiled kernel of modisco-lite; returns how many."""
    import modiscolite
    from numba.core.dispatcher import Dispatcher

    count = 0
    for info in pkgutil.iter_modules(modiscolite.__path__):
        if info.name in ("report", "descriptive_report", "cli"):  # plotting and the command line: no kernels
            continue
        module = importlib.import_module(f"modiscolite.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Dispatcher):
                try:
                    value.enable_caching()
                    count += 1
                except Exception:  # noqa: BLE001 - no writable cache: the kernel compiles in-process as before
                    log.debug("numba caching unavailable for %s", value)
    return count


def compile_kernels(stamp: PathLike) -> None:
    """Compile (or load from the cache) TOMTOM's and TF-MoDISco's kernels; write ``stamp`` with the versions.

    The times go to the log only: the stamp is the same on every run (results are byte-identical).
    """
    from dnabert.interpret.modisco import ModiscoSettings, run_modisco
    from dnabert.interpret.motifs.jaspar import jaspar_motifs, tomtom_matches
    from dnabert.interpret.synthetic import synthetic_contributions

    started = time.perf_counter()
    targets = jaspar_motifs()
    rng = np.random.default_rng(0)
    query = rng.dirichlet(np.ones(4), size=12).T
    tomtom_matches({"warmup": query}, targets[:50], n_best=1, threads=1)
    tomtom_seconds = time.perf_counter() - started
    motif = np.eye(4)[:, rng.integers(0, 4, size=10)] * 0.9 + 0.025  # a random 10-bp motif
    sequences, hyp, _ = synthetic_contributions(motif, 300, length=100, fraction=0.6)
    run_modisco(sequences, list(hyp), ModiscoSettings())
    modisco_seconds = time.perf_counter() - started - tomtom_seconds
    log.info("numba kernels ready: TOMTOM %.1f s, TF-MoDISco %.1f s", tomtom_seconds, modisco_seconds)
    lines = [f"{package}\t{version(package)}" for package in ("numba", "memelite", "modisco-lite")]
    write_text_atomic(stamp, "\n".join(lines) + "\n")
