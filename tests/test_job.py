"""Job start and end (dnabert.job) and temporary files (dnabert.io): signals, sweeps, one-line errors, logs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dnabert.io import (
    InputError,
    atomic_dir,
    atomic_write,
    sweep_stale_temps,
    temp_dir_for,
    temp_prefix,
)
from dnabert.job import (
    TERMINATED_EXIT,
    Terminated,
    attempt_logs,
    describe,
    protect_finished,
    run_job,
    terminate_on_signals,
)
from dnabert.io import ConfigError


def dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def temp_beside(target: Path, owner: str, directory: bool = False) -> Path:
    path = target.parent / f".{target.name}.{owner}.abc123_x.tmp"
    if directory:
        path.mkdir()
        (path / "part").write_text("partial")
    else:
        path.write_text("partial")
    return path


def test_temporary_names_carry_host_and_pid(tmp_path):
    target = tmp_path / "genome.fa.gz"
    with atomic_write(target) as handle:
        [tmp] = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert tmp.name.startswith(temp_prefix(target)) and tmp.name.endswith(".tmp")
        assert f"-{os.getpid()}." in tmp.name
        handle.write("x")
    assert target.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa.gz"]


def test_sweep_removes_only_temporary_files_of_the_outputs_whose_owner_is_gone(tmp_path):
    host = temp_prefix(tmp_path / "x").split(".")[2].rsplit("-", 1)[0]
    target = tmp_path / "genome.fa.gz"
    dead_file = temp_beside(target, f"{host}-{dead_pid()}")
    dead_dir = temp_beside(tmp_path / "model", f"{host}-{dead_pid()}", directory=True)
    alive = temp_beside(target, f"{host}-{os.getpid()}")
    elsewhere_fresh = temp_beside(target, "othernode-12")
    elsewhere_old = temp_beside(tmp_path / "chrom.sizes", "othernode-13")
    old = time.time() - 2 * 3600
    os.utime(elsewhere_old, (old, old))
    other_output = temp_beside(tmp_path / "genome.fa", f"{host}-{dead_pid()}")  # not one of the outputs
    unrelated = [tmp_path / ".genome.fa.gz.tmp", tmp_path / "genome.fa.gz.bak", tmp_path / ".genome.fa.gz.x.tmp"]
    for path in unrelated:
        path.write_text("keep")

    removed = sweep_stale_temps([target, tmp_path / "model", tmp_path / "chrom.sizes", tmp_path / "absent" / "f"])
    assert sorted(removed) == sorted([dead_file, dead_dir, elsewhere_old])
    assert not dead_file.exists() and not dead_dir.exists() and not elsewhere_old.exists()
    for kept in [alive, elsewhere_fresh, other_output, *unrelated]:
        assert kept.exists(), kept


def test_sweep_removes_a_read_only_folder(tmp_path):
    stale = temp_beside(tmp_path / "model", f"{temp_prefix(tmp_path).split('.')[2].rsplit('-', 1)[0]}-{dead_pid()}",
                        directory=True)  # fmt: skip
    (stale / "part").chmod(0o444)
    stale.chmod(0o555)
    assert sweep_stale_temps([tmp_path / "model"]) == [stale] and not stale.exists()


def test_atomic_dir_replaces_a_read_only_folder_and_keeps_it_on_failure(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    (target / "old.txt").chmod(0o444)
    target.chmod(0o555)  # as protected() leaves it
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("failed half way")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_sigterm_becomes_an_exception_that_removes_temporary_files(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(Terminated):
        with terminate_on_signals():
            with atomic_write(target) as handle, temp_dir_for(tmp_path / "work") as work:
                handle.write("partial")
                (work / "piece").write_text("partial")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # interrupted by the signal
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_sigusr1_is_logged_and_ignored(caplog):
    with terminate_on_signals(), caplog.at_level(logging.WARNING):
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)
    assert "received SIGUSR1 (time limit near): this job cannot checkpoint, so it carries on" in caplog.text


JOB = """
import os, signal, sys, time
from pathlib import Path
from dnabert.io import InputError, atomic_write
from dnabert.job import run_job

def main():
    mode = sys.argv[1]
    with atomic_write(Path(sys.argv[2]) / "out.txt") as handle:
        handle.write("partial")
        if mode == "input":
            raise InputError("peaks.bed", "not an integer: 'x'", line=12, field="end")
        if mode == "bug":
            {}["missing"]
        if mode == "term":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    return 0

sys.exit(run_job(main, outputs=[Path(sys.argv[2]) / "out.txt"], log_files=[sys.argv[3]], name="rule test"))
"""


@pytest.mark.parametrize(
    "mode, status, line",
    [
        ("input", 1, "ERROR rule test: peaks.bed:12: field 'end': not an integer: 'x'"),
        ("bug", 1, "ERROR rule test: KeyError: 'missing'"),
        ("term", TERMINATED_EXIT, "ERROR rule test: stopped by SIGTERM; partial outputs removed"),
    ],
)
def test_a_job_fails_with_one_line_on_stderr_and_the_traceback_in_its_log(tmp_path, mode, status, line):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    out, log = tmp_path / "out", tmp_path / "job.log"
    out.mkdir()
    result = subprocess.run([sys.executable, str(script), mode, str(out), str(log)], capture_output=True, text=True)
    assert result.returncode == status
    [stderr] = result.stderr.splitlines()
    assert stderr.endswith(line)
    assert log.read_text().rstrip().endswith(line)
    assert ("Traceback (most recent call last)" in log.read_text()) == (mode != "term")
    assert list(out.iterdir()) == []  # the partial output's temporary file is gone


def test_describe_names_the_type_only_for_unexpected_errors():
    assert describe(InputError("a.bed", "bad", line=3, field="start")) == "a.bed:3: field 'start': bad"
    assert describe(ConfigError(["x: bad", "y: worse"])) == "x: bad; y: worse"
    assert describe(ValueError("line one\nline two")) == "ValueError: line one line two"


def test_a_job_can_return_its_exit_status(tmp_path):
    assert run_job(lambda: 2, log_files=[tmp_path / "log"]) == 2
    assert run_job(lambda: None, log_files=[tmp_path / "log"]) == 0


def test_attempt_logs_keep_earlier_attempts(tmp_path):
    log_file, kept = tmp_path / "logs" / "pretrain.log", tmp_path / "checkpoints" / "attempts.log"
    for attempt in (1, 2):
        log_file.unlink(missing_ok=True)  # Snakemake removes a rule's log before each attempt
        files = attempt_logs(log_file, kept)
        assert files == [log_file, kept]
        for path in files:
            with open(path, "a") as handle:
                handle.write(f"line of attempt {attempt}\n")
    text = log_file.read_text().splitlines()
    assert [line.split(":")[0] for line in text if line.startswith("====")] == ["==== attempt 1", "==== attempt 2"]
    assert text.index("line of attempt 1") < text.index(next(t for t in text if t.startswith("==== attempt 2")))
    assert text[-1] == "line of attempt 2" and kept.read_text() == log_file.read_text()
    assert attempt_logs(log_file, kept, main=False) == [log_file]  # other ranks only append


def test_protect_finished(tmp_path):
    model, metrics = tmp_path / "model", tmp_path / "metrics.json"
    protect_finished(model, [metrics], allowed=False, key="pretrain.overwrite")  # nothing there yet
    model.mkdir()
    metrics.write_text("{}")
    with pytest.raises(InputError) as caught:
        protect_finished(model, [metrics], allowed=False, key="pretrain.overwrite", what="pretrained model")
    assert str(caught.value) == (
        f"{model}: field 'pretrain.overwrite': a finished pretrained model is already here and pretrain.overwrite is "
        "false, so it is not replaced (Snakemake reruns a job when its settings, code or inputs change); set "
        "pretrain.overwrite: true to redo it, or move it away to keep it")  # fmt: skip
    model.chmod(0o555)
    protect_finished(model, [metrics], allowed=True, key="pretrain.overwrite")
    assert os.stat(model).st_mode & 0o200  # made writable, so it can be replaced
