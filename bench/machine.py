"""What the benchmark scripts in this folder report about the machine they ran on."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from dnabert.lm.training import cpuinfo_field  # noqa: E402


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()
