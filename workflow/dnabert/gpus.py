"""Which GPUs a job may use: one lock file per GPU, so GPU jobs run side by side on one machine get their own.

Snakemake counts GPUs (``--resources gpu=4``) but does not say which ones a job gets,
so without this every local GPU job would use GPU 0. A job that needs ``n`` GPUs
claims ``n`` free *slots* under ``.snakemake/gpu_slots/`` (an exclusive ``flock`` on
``gpu<i>.lock``, one per GPU) and sets ``CUDA_VISIBLE_DEVICES`` to those GPUs before
torch touches CUDA; inside the job they are ``cuda:0 .. cuda:n-1`` (DDP takes them
all). The kernel drops a lock when its process ends, however it ends, so a killed
job frees its GPUs and nothing needs cleaning up. Slots are claimed all at once or
not at all (under one claim lock), so two multi-GPU jobs cannot deadlock; a job waits
while every slot is taken (more jobs than GPUs) and fails at once if it asks for more
GPUs than the machine has.

* The GPUs are those in ``CUDA_VISIBLE_DEVICES`` if it is set (indices or UUIDs: a
  restricted list is respected, slots index into it), else ``nvidia-smi -L``'s, else
  torch's count (asked in a subprocess, so this process's CUDA stays untouched).
* Under SLURM (``SLURM_JOB_ID`` set) SLURM has already chosen the job's GPUs: nothing
  is claimed or changed.
* ``DNABERT_GPU_SLOTS=/dir`` puts the locks elsewhere, e.g. one directory shared by
  several working directories on the same machine.

Script rules claim through :func:`assign_job_gpus` (``workflow/scripts/_glue.py``);
shell rules run their command under ``python -m dnabert.gpus --gpus N -- command ...``,
which claims, sets ``CUDA_VISIBLE_DEVICES`` and *execs* the command with the locks
inherited, so they are held until the command (and every process it starts) exits.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

SLOT_DIR = Path(".snakemake") / "gpu_slots"
SLOT_DIR_VARIABLE = "DNABERT_GPU_SLOTS"
WAIT_LOG_SECONDS = 60.0
_held: list[GpuClaim] = []  # claims of this process, kept open until it exits


class GpuError(RuntimeError):
    """A job asks for GPUs that this machine cannot give it."""


# --------------------------------------------------------------------------- discovery


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (indices or UUIDs)."""
    env = os.environ if env is None else env
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        entries = [entry.strip() for entry in listed.split(",") if entry.strip()]
        # CUDA stops at the first invalid entry; "-1" (or any negative) hides every GPU
        valid = []
        for entry in entries:
            if entry.lstrip("-").isdigit() and int(entry) < 0:
                break
            valid.append(entry)
        return valid
    return [str(i) for i in range(_count_gpus())]


def _count_gpus() -> int:
    """GPUs on the machine: nvidia-smi's list, else torch's count in a subprocess, else 0."""
    if shutil.which("nvidia-smi"):
        result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60)
        if result.returncode == 0:
            return sum(line.startswith("GPU ") for line in result.stdout.splitlines())
    probe = "import torch; print(torch.cuda.device_count())"
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        return int(result.stdout.strip() or 0) if result.returncode == 0 else 0
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


def under_slurm(env: Mapping[str, str] | None = None) -> bool:
    """Inside a SLURM job, whose GPUs SLURM has already bound (its CUDA_VISIBLE_DEVICES is kept)."""
    return "SLURM_JOB_ID" in (os.environ if env is None else env)


def slot_directory(env: Mapping[str, str] | None = None) -> Path:
    """Where the slot locks live: ``$DNABERT_GPU_SLOTS`` or ``.snakemake/gpu_slots`` in the working directory."""
    env = os.environ if env is None else env
    return Path(env.get(SLOT_DIR_VARIABLE) or SLOT_DIR)


# --------------------------------------------------------------------------- claiming


@dataclass
class GpuClaim:
    """GPUs claimed by this process: their ``CUDA_VISIBLE_DEVICES`` entries and the open, locked slot files."""

    gpus: list[str]
    slots: list[int]
    _files: list[int] = field(default_factory=list, repr=False)

    @property
    def visible(self) -> str:
        return ",".join(self.gpus)

    def inheritable(self) -> None:
        """Keep the locks across ``exec`` (and in child processes)."""
        for fd in self._files:
            os.set_inheritable(fd, True)

    def release(self) -> None:
        for fd in self._files:
            os.close(fd)
        self._files.clear()


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _claim_once(count: int, gpus: Sequence[str], directory: Path) -> GpuClaim | None:
    """Lock ``count`` free slots, or none (under the claim lock, so claims never interleave)."""
    guard = os.open(directory / "claim.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)
        taken: list[tuple[int, int]] = []
        for slot in range(len(gpus)):
            fd = _try_lock(directory / f"gpu{slot}.lock")
            if fd is not None:
                taken.append((slot, fd))
                if len(taken) == count:
                    slots = [s for s, _ in taken]
                    return GpuClaim([gpus[s] for s in slots], slots, [fd for _, fd in taken])
        for _, fd in taken:
            os.close(fd)
        return None
    finally:
        os.close(guard)


def claim_gpus(
    count: int, gpus: Sequence[str], directory: Path, *, timeout: float | None = None, poll: float = 1.0
) -> GpuClaim:
    """Claim ``count`` of ``gpus``, waiting (up to ``timeout`` seconds; None: for ever) while they are taken."""
    if count > len(gpus):
        visible = ", ".join(gpus) or "none"
        raise GpuError(f"the job asks for {count} GPU(s) but this machine has {len(gpus)} (visible: {visible})")
    directory.mkdir(parents=True, exist_ok=True)
    started = last_log = time.monotonic()
    while True:
        claim = _claim_once(count, gpus, directory)
        if claim is not None:
            return claim
        now = time.monotonic()
        if timeout is not None and now - started >= timeout:
            raise GpuError(f"no {count} free GPU slot(s) of {len(gpus)} in {directory} after {timeout:.0f} s")
        if now - last_log >= WAIT_LOG_SECONDS or last_log == started:
            log.info("waiting for %d free GPU(s) of %d (slots in %s)", count, len(gpus), directory)
            last_log = now
        time.sleep(poll)


def assign_job_gpus(count: int, env: MutableMapping[str, str] | None = None, **kwargs) -> GpuClaim | None:
    """Claim ``count`` GPUs for this job and set ``CUDA_VISIBLE_DEVICES`` to them (held until the process exits).

    Nothing is done for ``count`` 0 or under SLURM. Call before torch initialises CUDA.
    """
    env = os.environ if env is None else env
    if count <= 0 or under_slurm(env):
        return None
    claim = claim_gpus(count, visible_gpus(env), slot_directory(env), **kwargs)
    env["CUDA_VISIBLE_DEVICES"] = claim.visible
    _held.append(claim)
    log.info("GPU slot(s) %s: CUDA_VISIBLE_DEVICES=%s", ",".join(map(str, claim.slots)), claim.visible)
    return claim


def job_gpus(resources: Mapping[str, object]) -> int:
    """The GPUs a Snakemake job asked for (its ``gpu`` resource)."""
    value = resources.get("gpu", 0) if hasattr(resources, "get") else getattr(resources, "gpu", 0)
    return int(value or 0)


def for_job(resources: Mapping[str, object], main: Callable[[], None]) -> Callable[[], None]:
    """``main`` that first claims the job's GPUs (a script rule's body, so a GPU error lands in its log)."""

    def with_gpus() -> None:
        assign_job_gpus(job_gpus(resources))
        main()

    return with_gpus


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dnabert.gpus --gpus N -- command ...``: claim N GPUs, then exec the command holding them."""
    parser = argparse.ArgumentParser(prog="python -m dnabert.gpus", description=main.__doc__)
    parser.add_argument("--gpus", type=int, required=True, help="GPUs the command needs (0: run it as it is)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for free GPUs (default: no limit)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (after --)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    try:
        claim = assign_job_gpus(args.gpus, timeout=args.timeout)
    except GpuError as error:
        log.error("%s", error)
        return 2
    if claim is not None:
        claim.inheritable()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
