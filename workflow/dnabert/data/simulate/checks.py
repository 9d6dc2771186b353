"""Errors and value checks for the ``genome.simulate`` settings, each naming its config field."""

from __future__ import annotations

from typing import Any

import numpy as np

from dnabert.io import InputError

FIELD = "genome.simulate"


def fail(field_name: str, message: str) -> InputError:
    """An :class:`InputError` for ``genome.simulate.<field_name>`` (raise it)."""
    return InputError(None, message, field=f"{FIELD}.{field_name}")


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def check_fraction(name: str, value: Any, lo: float = 0.0, hi: float = 1.0) -> None:
    if not is_number(value) or not lo <= float(value) <= hi:
        raise fail(name, f"must be a number in [{lo}, {hi}], got {value!r}")


def check_count(name: str, value: Any) -> None:
    if not is_int(value) or value < 0:
        raise fail(name, f"must be a non-negative integer, got {value!r}")
