"""Shared fixtures: the repository root and the real test data beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """A file under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real test data absent: {path} (expected ../shared/data beside the project)")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO
