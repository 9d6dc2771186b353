"""How a workflow job starts and ends: its log, signals, stale temporary files and one-line errors.

Every ``script:`` job (through ``workflow/scripts/_glue.py``) and the ``python -m``
jobs of the rules run their work inside :func:`run_job`, which

* sends logging to the rule's log file (with tracebacks) and to stderr (one line
  per message, never a traceback), and Python warnings through logging;
* removes temporary files of the job's outputs left by an earlier attempt whose
  process is gone (:func:`dnabert.io.sweep_stale_temps`: a kill -9, an out-of-memory
  kill, a lost node);
* turns SIGTERM (Snakemake stopping a job, a SLURM time limit or ``scancel``) into
  a :class:`Terminated` exception, so every ``with`` block on the way out removes
  its temporary files and nothing partial is left; SIGUSR1 (SLURM's early warning,
  ``--signal=USR1@120``) is logged and otherwise ignored by jobs that cannot
  checkpoint (pretraining and fine-tuning install their own handler, which
  checkpoints);
* on failure writes the traceback to the log only and one line to stderr, e.g.
  ``peaks.bed:12: field 'end': not an integer: 'x'``, so the terminal shows the
  cause once, beside Snakemake's "Error in rule" block that names the log.

Exit status: 0, 1 on an error, 143 (128 + SIGTERM) when terminated, 130 on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from dnabert.io import ConfigError, InputError, PathLike, make_writable, sweep_stale_temps

log = logging.getLogger(__name__)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINATED_EXIT = 143  # 128 + SIGTERM
FAILED_EXIT = 1
INTERRUPTED_EXIT = 130  # 128 + SIGINT
ATTEMPT_HEADER = "==== attempt"


class Terminated(BaseException):
    """The job was asked to stop (SIGTERM). A BaseException, so ``except Exception`` does not swallow it."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class _OneLine(logging.Formatter):
    """A formatter that leaves tracebacks out (they go to the log file only)."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def setup_logging(log_files: Iterable[PathLike] = (), *, append: bool = False, fmt: str = FORMAT) -> None:
    """INFO logging to each file (with tracebacks) and to stderr (without); warnings captured."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(_OneLine(fmt))
    handlers: list[logging.Handler] = [stderr]
    for path in log_files:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="a" if append else "w")
        handler.setFormatter(logging.Formatter(fmt))
        handlers.append(handler)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)
    logging.captureWarnings(True)


def describe(error: BaseException) -> str:
    """The one line a user sees for a failed job.

    Input and config errors are already ``file:line: field 'x': message``; anything
    else gets its type, so a bug is told apart from bad input.
    """
    if isinstance(error, ConfigError):
        return "; ".join(error.problems)
    if isinstance(error, InputError):
        return str(error)
    text = str(error).strip().replace("\n", " ")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def log_failure(error: BaseException, logger: logging.Logger = log) -> None:
    """The traceback to the log file(s) only, then the one-line cause to every handler."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    root = logging.getLogger()
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "traceback:\n%s", (trace,), None)
    for handler in files:
        handler.handle(record)
    logger.error("%s", describe(error))


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` (once); SIGUSR1 is logged and ignored. Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def on_term(signum: int, frame: Any) -> None:
        nonlocal raised
        if raised:  # already unwinding: let the clean-up finish
            log.warning("received %s again while cleaning up", signal.Signals(signum).name)
            return
        raised = True
        raise Terminated(signum)

    def on_usr1(signum: int, frame: Any) -> None:
        log.warning("received SIGUSR1 (time limit near): this job cannot checkpoint, so it carries on")

    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, on_term)}
    if hasattr(signal, "SIGUSR1"):
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, on_usr1)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_job(
    main: Callable[[], Any],
    *,
    outputs: Iterable[PathLike] = (),
    log_files: Iterable[PathLike] = (),
    name: str = "job",
    append: bool = False,
    fmt: str = FORMAT,
) -> int:
    """Run ``main`` as a workflow job (see the module docstring); return the exit status.

    ``main`` may return an exit status of its own (an int); anything else counts as 0.
    """
    setup_logging(log_files, append=append, fmt=fmt)
    logger = logging.getLogger(name)
    try:
        with terminate_on_signals():
            sweep_stale_temps(outputs)
            status = main()
    except Terminated as stop:
        logger.error("%s; partial outputs removed", stop)
        return TERMINATED_EXIT
    except KeyboardInterrupt:
        logger.error("interrupted; partial outputs removed")
        return INTERRUPTED_EXIT
    except Exception as error:  # noqa: BLE001 - every failure ends in one line
        log_failure(error, logger)
        return FAILED_EXIT
    finally:
        logging.shutdown()
    return status if isinstance(status, int) else 0


def attempt_logs(log_file: PathLike, kept: PathLike, main: bool = True) -> list[Path]:
    """Log files for a job that resumes across attempts (pretraining after a pre-emption or time limit).

    Snakemake deletes a rule's log before every attempt, so the lines of earlier
    attempts are kept in ``kept`` (beside the checkpoints, which outlive attempts):
    the main process copies them into ``log_file`` if it is new or empty, then writes an
    attempt header to both, and the job logs to both. Other processes (ranks) of a
    distributed job only append to ``log_file``.
    """
    log_file, kept = Path(log_file), Path(kept)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if not main:
        return [log_file]
    kept.parent.mkdir(parents=True, exist_ok=True)
    earlier = kept.read_text(errors="replace") if kept.is_file() else ""
    attempt = sum(1 for line in earlier.splitlines() if line.startswith(ATTEMPT_HEADER)) + 1
    where = f"{socket.gethostname()}, pid {os.getpid()}"
    if os.environ.get("SLURM_JOB_ID"):
        where += f", SLURM job {os.environ['SLURM_JOB_ID']}"
    header = f"{ATTEMPT_HEADER} {attempt}: started {time.strftime('%Y-%m-%d %H:%M:%S')} on {where} ====\n"
    fresh = not log_file.is_file() or log_file.stat().st_size == 0  # Snakemake removed it; else it holds them
    with open(log_file, "a") as handle:
        handle.write((earlier if fresh else "") + header)
    with open(kept, "a") as handle:
        handle.write(header)
    return [log_file, kept]


def protect_finished(
    output: PathLike, evidence: Iterable[PathLike], *, allowed: bool, key: str, what: str = "output"
) -> None:
    """Refuse to replace a finished, expensive output unless the config allows it (``key: true``).

    Snakemake's ``protected()`` relies on file permissions, which do not stop root
    (containers, many clusters' images), and Snakemake reruns a job whenever its
    settings, code or inputs change. ``output`` counts as finished when it and every
    ``evidence`` path exist. Call this before the job deletes anything.
    """
    output = Path(output)
    if not all(Path(path).exists() for path in (output, *evidence)):
        return
    if allowed:
        log.warning("%s: replacing the finished %s (%s: true)", output, what, key)
        make_writable(output)
        return
    raise InputError(
        output,
        f"a finished {what} is already here and {key} is false, so it is not replaced (Snakemake reruns a job "
        f"when its settings, code or inputs change); set {key}: true to redo it, or move it away to keep it",
        field=key,
    )
