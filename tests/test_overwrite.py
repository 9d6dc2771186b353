"""A finished pretrained model is not replaced unless the user asks (pretrain.overwrite), also as root.

Snakemake's protected() relies on write permissions, which do not stop root, and
Snakemake reruns pretraining whenever its settings change, deleting the old model
and then (through the new run) its checkpoints. The workflow checks before any job
runs (onstart, workflow/rules/functions/pretrain.smk). The tests work on a copy of
the tiny DAG's run (conftest.tiny_run), so only pretraining runs again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import TINY, run_snakemake

pytestmark = pytest.mark.workflow


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def config_with(tmp_path: Path, name: str, **pretrain) -> str:
    config = yaml.safe_load(Path(TINY).read_text())
    config["pretrain"].update(pretrain)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))  # key order is part of Snakemake's params check
    return str(path)


@pytest.fixture
def finished(tiny_run, tmp_path) -> Path:
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    return workdir


def test_changed_settings_do_not_replace_a_finished_model(finished, tmp_path):
    pretrain = finished / "results" / "pretrain"
    before = digests(pretrain)
    log_before = (finished / "logs" / "pretrain_mlm.log").read_text()
    steps = yaml.safe_load(Path(TINY).read_text())["pretrain"]["steps"]
    changed = config_with(tmp_path, "changed.yaml", steps=steps + 2)

    refused = run_snakemake(finished, "--cores", "1", "pretrain", "--configfile", changed, check=False)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    if os.geteuid() == 0:  # protected() does not hold for root: the workflow's own check
        [line] = [line for line in output.splitlines() if "pretrain.overwrite" in line and " - " in line]
        assert line.startswith("  - results/pretrain/model: field 'pretrain.overwrite': a finished pretrained "
                               "model is here and Snakemake would retrain over it (")  # fmt: skip
        assert "params have changed since last execution" in line
        assert line.endswith("); set pretrain.overwrite: true to replace it, or move it away to keep it")
    else:
        assert "Write-protected output files" in output
    assert digests(pretrain) == before  # model, metrics, log, plot and checkpoints untouched
    assert (finished / "logs" / "pretrain_mlm.log").read_text() == log_before  # no job ran

    allowed = config_with(tmp_path, "allowed.yaml", steps=steps + 2, overwrite=True)
    run_snakemake(finished, "--cores", "1", "pretrain", "--configfile", allowed)
    after = digests(pretrain)
    assert after["model/model.safetensors"] != before["model/model.safetensors"]
    assert f"step {steps + 2}/{steps + 2}" in (finished / "logs" / "pretrain_mlm.log").read_text()

    # overwrite is not a training setting: switching it back reruns nothing.
    back = config_with(tmp_path, "back.yaml", steps=steps + 2, overwrite=False)
    dry = run_snakemake(finished, "-n", "pretrain", "--configfile", back)
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_forcerun_counts_as_asking(finished):
    pretrain = finished / "results" / "pretrain"
    before = digests(pretrain / "model")
    result = run_snakemake(finished, "--cores", "1", "pretrain", "--configfile", TINY, "--forcerun", "pretrain_mlm")
    assert "a finished pretrained model is here" not in result.stdout + result.stderr
    assert digests(pretrain / "model") == before  # same settings, CPU: the same weights again
    assert (finished / "logs" / "pretrain_mlm.log").read_text().count("==== attempt") >= 2
