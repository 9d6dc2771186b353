"""Shared start of every Snakemake ``script:`` job.

Makes the ``dnabert`` package importable where it is not installed (a conda env
made by ``--use-conda``), then runs the job through :func:`dnabert.job.run_job`:
logging to the rule's ``log:`` file (tracebacks there only), stale temporary files
of the outputs swept, SIGTERM turned into a clean exit, one line per failure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

try:
    import dnabert  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnabert.gpus import for_job  # noqa: E402
from dnabert.job import run_job  # noqa: E402


def run(snakemake, main: Callable[[], None]) -> None:
    """Run ``main`` as the rule's job (a GPU job on its own GPU(s): dnabert.gpus); exit with its status (0, 1 failed, 143 terminated)."""
    status = run_job(
        for_job(snakemake.resources, main),
        outputs=[str(path) for path in snakemake.output],
        log_files=[snakemake.log[0]] if snakemake.log else [],
        name=f"rule {snakemake.rule}",
    )
    if status:
        sys.exit(status)
