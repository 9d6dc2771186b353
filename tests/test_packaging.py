"""Packaging and CI: the build requirement fits the SPDX license field; CI cannot pass without the shared data."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import conftest
from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def test_build_requires_a_setuptools_that_reads_spdx_license_expressions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # an SPDX expression: setuptools >= 77
    [setuptools] = [Requirement(r) for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains(Version("76.1.0")), setuptools
    assert setuptools.specifier.contains(Version("77.0.0"))


def test_a_missing_shared_file_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="real test data absent"):
        conftest.shared_file("no/such/file.fa.gz")


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_a_missing_shared_file_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI=true, so this fails instead of skipping"):
        conftest.shared_file("no/such/file.fa.gz")


def test_ci_script_sets_ci_before_running_the_tests():
    script = (REPO / ".ci" / "run").read_text()
    export = re.search(r"^export CI=true$", script, flags=re.M)
    test = re.search(r"^make test$", script, flags=re.M)
    assert export and test and export.start() < test.start()
