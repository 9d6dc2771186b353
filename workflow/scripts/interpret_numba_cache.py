"""Snakemake glue: compile memelite's and modisco-lite's numba kernels once, into the workflow's numba cache."""

import os
from pathlib import Path

from _glue import run

# numba reads its cache folder when it is first imported.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(snakemake.params.numba_cache).resolve()))

from dnabert.interpret.numba_cache import compile_kernels  # noqa: E402


def main() -> None:
    compile_kernels(snakemake.output[0])


run(snakemake, main)
