"""A throwaway single-node SLURM cluster on localhost, for the SLURM integration test.

Everything lives in one temporary directory: a private munge key and socket, a
``slurm.conf`` for one node (this host, 127.0.0.1) and one default partition,
state, spool and log files. ``munged``, ``slurmctld`` and ``slurmd`` run in the
foreground as children of this process, on free ports, so a system-wide SLURM or
munge (if any) is left alone; clients find the cluster through ``SLURM_CONF``.

Accounting without slurmdbd: ``AccountingStorageType=accounting_storage/none`` (so
``sacct`` answers "accounting storage is disabled") and
``JobCompType=jobcomp/filetxt``: every finished job is one line in ``jobcomp.log``
(id, name, state, partition, account, resources). ``MinJobAge=3600`` keeps
finished jobs in ``squeue --states=all`` for an hour, which is what
snakemake-executor-plugin-slurm then needs: run it with
``--slurm-status-command squeue``. No cgroups (``proctrack/linuxproc``,
``task/none``), so no ``cgroup.conf`` and no memory enforcement: the node
declares a nominal ``RealMemory`` (``SlurmdParameters=config_overrides``) so that
real-scale memory requests are accepted. Optional fake GPUs (GRES backed by
/dev/null and friends) let ``sbatch --test-only`` validate GPU requests. An
``srun`` shim first on PATH restores ``SLURM_CONF`` inside jobs, where
snakemake-executor-plugin-slurm-jobstep drops it (see ``_write_srun_shim``).

Needs root (slurmd starts jobs as their user) and Debian's ``slurm-wlm`` and
``munge``. Use it from Python::

    with LocalSlurm() as cluster:            # started; node idle
        subprocess.run([...], env=cluster.env())
        cluster.jobcomp_records()           # finished jobs, as dicts
                                            # stopped (jobs cancelled) on exit

or from the shell, to run one command against a fresh cluster::

    python tests/slurm/local_slurm.py -- snakemake --workflow-profile profiles/slurm \
        --slurm-status-command squeue
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("local_slurm")

DAEMONS = ("munged", "slurmctld", "slurmd")
# CPUs the node declares at least: a rule's threads become --cpus-per-task, which
# SLURM refuses above the node's CPUs (a local run would cap them at --cores).
MIN_CPUS = 4
# Character devices that stand in for GPU device files: SLURM then schedules
# (and `sbatch --test-only` validates) GPU requests; nothing can run on them.
FAKE_GPU_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")


def unavailable_reason() -> str | None:
    """Why a local cluster cannot be started here, or None if it can."""
    if not sys.platform.startswith("linux"):
        return f"a local SLURM cluster needs Linux, not {sys.platform}"
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd starts jobs as their user)"
    missing = [name for name in DAEMONS + CLIENTS if not shutil.which(name, path=_search_path())]
    if missing:
        return f"SLURM/munge binaries not found: {', '.join(missing)} (Debian: apt-get install slurm-wlm munge)"
    return None


def _search_path() -> str:
    """PATH plus the sbin directories, where Debian puts the daemons."""
    extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"]
    return os.pathsep.join([os.environ.get("PATH", ""), *extra])


def _which(name: str) -> str:
    found = shutil.which(name, path=_search_path())
    if not found:
        raise FileNotFoundError(f"{name} not found on PATH or in /usr/sbin")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path} (last {len(text)} lines)\n" + "\n".join(text)


class LocalSlurm:
    """One SLURM node on localhost with one default partition, in a temporary directory.

    ``cpus`` defaults to this machine's CPU count, at least ``MIN_CPUS``; ``memory_mb``
    is nominal (not enforced) and large enough for the workflow profile's requests. ``gpus`` fake
    GPUs of type ``gpu_type`` (GRES backed by /dev/null and friends) let SLURM
    validate GPU requests with ``sbatch --test-only``; never run a GPU job on them.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        cpus: int | None = None,
        memory_mb: int = 256_000,
        partition: str = "debug",
        cluster_name: str = "dnabert-test",
        gpus: int = 0,
        gpu_type: str = "a100",
        keep: bool = False,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="dnabert-slurm-"))
        self.cpus = cpus or max(os.cpu_count() or 1, MIN_CPUS)
        self.memory_mb = memory_mb
        self.partition = partition
        self.cluster_name = cluster_name
        if gpus > len(FAKE_GPU_DEVICES):
            raise ValueError(f"at most {len(FAKE_GPU_DEVICES)} fake GPUs, not {gpus}")
        self.gpus = gpus
        self.gpu_type = gpu_type
        self.keep = keep
        self.node = socket.gethostname().split(".")[0] or "localhost"
        self.conf = self.root / "slurm.conf"
        self.jobcomp_log = self.root / "log" / "jobcomp.log"
        self.munge_socket = self.root / "run" / "munge.socket"
        self._procs: dict[str, subprocess.Popen] = {}

    # --- configuration -------------------------------------------------------------

    def write_config(self) -> Path:
        """Write the munge key and slurm.conf; return the slurm.conf path."""
        # munged wants its socket directory traversable by everyone and its key
        # private; the temporary root from mkdtemp is 0700.
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for name, mode in (("run", 0o755), ("munge", 0o700), ("state", 0o700), ("spool", 0o755), ("log", 0o755)):
            (self.root / name).mkdir(exist_ok=True)
            (self.root / name).chmod(mode)
        self._write_srun_shim()
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(128))
            key.chmod(0o400)
        r = self.root
        settings = {
            "ClusterName": self.cluster_name,
            "SlurmctldHost": f"{self.node}(127.0.0.1)",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={self.munge_socket}",
            "CredType": "cred/munge",
            "StateSaveLocation": r / "state",
            "SlurmdSpoolDir": r / "spool",
            "SlurmctldPidFile": r / "run" / "slurmctld.pid",
            "SlurmdPidFile": r / "run" / "slurmd.pid",
            "SlurmctldLogFile": r / "log" / "slurmctld.log",
            "SlurmdLogFile": r / "log" / "slurmd.log",
            "SlurmctldDebug": "info",
            "SlurmdDebug": "info",
            "MailProg": "/bin/true",
            "MpiDefault": "none",
            # No cgroups: works in containers, needs no cgroup.conf.
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none",
            # No slurmdbd: finished jobs go to a text file instead.
            "AccountingStorageType": "accounting_storage/none",
            "JobCompType": "jobcomp/filetxt",
            "JobCompLoc": self.jobcomp_log,
            # Keep finished jobs visible to squeue --states=all for an hour.
            "MinJobAge": 3600,
            "SchedulerType": "sched/backfill",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core_Memory",
            # The node reports what slurm.conf declares (nominal memory, no drain).
            "SlurmdParameters": "config_overrides",
            "ReturnToService": 2,
        }
        gres = ""
        if self.gpus:
            settings["GresTypes"] = "gpu"
            gres = f"Gres=gpu:{self.gpu_type}:{self.gpus} "
            (self.root / "gres.conf").write_text(
                "AutoDetect=off\n"
                + "".join(
                    f"NodeName={self.node} Name=gpu Type={self.gpu_type} File={device}\n"
                    for device in FAKE_GPU_DEVICES[: self.gpus]
                )
            )
        lines = ["# Written by tests/slurm/local_slurm.py: a throwaway single-node cluster."]
        lines += [f"{key}={value}" for key, value in settings.items()]
        lines.append(
            f"NodeName={self.node} NodeHostname={self.node} NodeAddr=127.0.0.1 "
            f"CPUs={self.cpus} RealMemory={self.memory_mb} {gres}State=UNKNOWN"
        )
        lines.append(f"PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        return self.conf

    def _write_srun_shim(self) -> None:
        """An ``srun`` that finds this cluster even without SLURM_CONF.

        Inside a job, snakemake-executor-plugin-slurm-jobstep runs the rule with
        ``srun`` but drops every SLURM_* variable except the job's identity, SLURM_CONF
        included; a real cluster's clients find /etc/slurm/slurm.conf (or DNS SRV
        records), a throwaway one in a temporary directory does not. The shim,
        first on PATH, puts SLURM_CONF back and runs the real srun.
        """
        bin_dir = self.root / "bin"
        bin_dir.mkdir(exist_ok=True)
        bin_dir.chmod(0o755)
        shim = bin_dir / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf}\nexport SLURM_CONF\nexec {_which("srun")} "$@"\n')
        shim.chmod(0o755)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose SLURM clients talk to this cluster (inherited SLURM_* job variables dropped)."""
        env = dict(os.environ if base is None else base)
        for name in list(env):
            if name.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")):
                del env[name]
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.root / "bin"), _search_path()])
        return env

    # --- daemons -------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "ab")
        try:
            self._procs[name] = subprocess.Popen(
                [_which(name), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,  # a Ctrl-C in the terminal goes to the test, which stops us in order
            )
        finally:
            out.close()

    def _wait(self, what: str, check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}\n{self.logs()}")
            if check():
                return
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")

    def _client(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_which(args[0]), *args[1:]], env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def node_state(self) -> str:
        result = self._client("sinfo", "--noheader", "--Node", "--nodes", self.node, "--format", "%T")
        return result.stdout.strip() if result.returncode == 0 else ""

    def start(self, timeout: float = 60) -> "LocalSlurm":
        """Write the configuration, start munged, slurmctld and slurmd, and wait until the node is idle."""
        reason = unavailable_reason()
        if reason:
            self.stop()
            raise RuntimeError(reason)
        try:
            self.write_config()
            self._spawn(
                "munged",
                [
                    "--foreground",
                    f"--socket={self.munge_socket}",
                    f"--key-file={self.root / 'munge' / 'munge.key'}",
                    f"--pid-file={self.root / 'run' / 'munged.pid'}",
                    f"--log-file={self.root / 'log' / 'munged.log'}",
                    f"--seed-file={self.root / 'munge' / 'munged.seed'}",
                ],
            )
            self._wait("the munge socket", self.munge_socket.exists, timeout)
            # -i: ignore (absent) state files; -D: foreground.
            self._spawn("slurmctld", ["-D", "-i", "-f", str(self.conf)])
            self._wait("slurmctld", lambda: self._client("scontrol", "ping").returncode == 0, timeout)
            self._spawn("slurmd", ["-D", "-f", str(self.conf), "-N", self.node])
            self._wait(f"node {self.node} to be idle", lambda: self.node_state() == "idle", timeout)
        except BaseException:
            self.stop()
            raise
        log.info("SLURM cluster up: SLURM_CONF=%s, node %s, partition %s", self.conf, self.node, self.partition)
        return self

    def cancel_all_jobs(self, timeout: float = 30) -> None:
        """Cancel every job of this (private) cluster and wait until none runs."""
        if "slurmctld" not in self._procs or self._procs["slurmctld"].poll() is not None:
            return
        self._client("scancel", "--full", "--partition", self.partition)

        def none_active() -> bool:
            result = self._client(
                "squeue", "--noheader", "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED", "--format=%i"
            )
            return result.returncode != 0 or not result.stdout.strip()

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not none_active():
            time.sleep(0.5)

    def stop(self, timeout: float = 20) -> None:
        """Cancel remaining jobs, then stop slurmd, slurmctld and munged (SIGTERM, then SIGKILL)."""
        try:
            self.cancel_all_jobs()
        except (OSError, subprocess.SubprocessError) as error:
            log.warning("could not cancel jobs: %s", error)
        for name in reversed(DAEMONS):
            proc = self._procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) ignored SIGTERM; killing it", name, proc.pid)
                proc.kill()
                proc.wait()
        if self._own_root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "LocalSlurm":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- what happened -------------------------------------------------------------

    def jobcomp_records(self) -> list[dict[str, str]]:
        """Finished jobs from the job completion log: one dict per job (JobId, Name, JobState, Partition, Account, ...)."""
        if not self.jobcomp_log.exists():
            return []
        pair = re.compile(r"(\w+)=(\S*)")
        return [dict(pair.findall(line)) for line in self.jobcomp_log.read_text().splitlines() if line.strip()]

    def logs(self, lines: int = 30) -> str:
        """The tails of the daemons' logs, for error messages."""
        names = ["munged.out", "munged.log", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"]
        return "\n".join(_tail(self.root / "log" / name, lines) for name in names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start a single-node SLURM cluster on localhost, run a command against it "
        "(SLURM_CONF set), then stop it. Without a command, wait for Ctrl-C.",
    )
    parser.add_argument("--dir", type=Path, help="directory for config, state and logs (default: a new temporary one)")
    parser.add_argument(
        "--cpus", type=int, help=f"CPUs the node declares (default: this machine's, at least {MIN_CPUS})"
    )
    parser.add_argument("--gpus", type=int, default=0, help="fake GPUs (gres gpu:a100) for sbatch --test-only checks")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) afterwards")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    reason = unavailable_reason()
    if reason:
        parser.error(reason)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    cluster = LocalSlurm(args.dir, cpus=args.cpus, gpus=args.gpus, keep=args.keep or args.dir is not None)
    with cluster:
        if not command:
            print(f"export SLURM_CONF={cluster.conf}\nCtrl-C stops the cluster.", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                return 0
        return subprocess.run(command, env=cluster.env()).returncode


if __name__ == "__main__":
    sys.exit(main())
