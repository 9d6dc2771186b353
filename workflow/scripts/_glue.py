"""Shared start of every Snakemake ``script:`` job.

Makes the ``dnabert`` package importable where it is not installed (a conda env
made by ``--use-conda``), and sends logging to the rule's ``log:`` file.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

try:
    import dnabert  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnabert.gpus import for_job  # noqa: E402


def run(snakemake, main: Callable[[], None]) -> None:
    """Configure logging to ``snakemake.log[0]``, run ``main``, and log any error before re-raising."""
    main = for_job(snakemake.resources, main)  # a GPU job gets its own GPU(s): dnabert.gpus
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    try:
        main()
    except Exception:
        logging.getLogger(f"rule {snakemake.rule}").exception("failed")
        raise
