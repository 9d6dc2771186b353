"""SLURM: the tiny config's genome-to-fine-tuning path through profiles/slurm on a real single-node SLURM, and GPU requests.

The cluster (tests/slurm/local_slurm.py) is started once for this module: munged,
slurmctld and slurmd on localhost, as root, stopped (jobs cancelled) afterwards
even when a test fails. Without root or without Debian's slurm-wlm and munge,
the tests that need it are skipped with the reason.

GPU jobs cannot run here. Instead, Snakemake's own dry run under the profile
gives the GPU rules' resources for a config with GPUs, the plugin's sbatch
builder turns them into sbatch arguments, and (with the cluster) the real
slurmctld checks those arguments with ``sbatch --test-only`` against a node with
two fake GPUs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO

sys.path.insert(0, str(Path(__file__).resolve().parent / "slurm"))
from local_slurm import LocalSlurm, unavailable_reason  # noqa: E402

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

PROFILE = REPO / "profiles" / "slurm"
TINY = REPO / "tests" / "config" / "tiny.yaml"
PARTITION = "debug"
GPU_TYPE = "a100"
# What the SLURM run builds: one task's fine-tuned model and everything it needs.
SLURM_TARGET = "results/finetune/ctcf/metrics.json"
# Seconds the SLURM run may take before the test gives up.
RUN_TIMEOUT = 1200
# The throwaway cluster has no slurmdbd, so `sacct` answers "accounting storage is
# disabled"; finished jobs stay in `squeue --states=all` (MinJobAge=3600) instead.
# The first status check comes after 2 s instead of 40 s, so short jobs finish quickly.
SLURM_TEST_ARGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-keep-successful-logs",
)


# Rules that take seconds: localrules, never a SLURM job each.
TRIVIAL_RULES = ("dataset_qc", "finetune_task", "scratch_task", "benchmark_summary", "prepare_blacklist",
                 "planted_motif_recovery")  # fmt: skip
# Rules that resume from a checkpoint: the same runtime on every attempt, and SIGUSR1 before the limit.
RESUMABLE_RULES = ("pretrain_mlm", "finetune_seed", "scratch_seed")


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the workflow in ``workdir``; the result, or an AssertionError on a timeout."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        # Killed: its SLURM jobs are cancelled when the cluster fixture stops.
        out, err = (_text(stream) for stream in (error.stdout, error.stderr))
        raise AssertionError(
            f"snakemake {' '.join(args)} ran over {timeout} s:\n{out[-3000:]}\n{err[-5000:]}"
        ) from None


def _text(stream: str | bytes | None) -> str:
    """Captured output as text (TimeoutExpired may hold bytes even with text=True)."""
    if isinstance(stream, bytes):
        return stream.decode(errors="replace")
    return stream or ""


def dry_run_jobs(output: str) -> list[dict]:
    """The job blocks of a dry run: rule, local or not, resources (dict) and shell command."""
    jobs: list[dict] = []
    for line in output.splitlines():
        header = re.match(r"^(local)?rule (\w+):$", line)
        if header:
            jobs.append({"rule": header.group(2), "local": bool(header.group(1)), "resources": {}, "shell": ""})
        elif jobs and line.startswith("    resources: "):
            for item in line.split(": ", 1)[1].split(", "):
                key, _, value = item.partition("=")
                jobs[-1]["resources"][key] = int(value) if value.isdigit() else value
        elif jobs and line.startswith("Shell command: "):
            jobs[-1]["shell"] = line.split(": ", 1)[1]
    return jobs


class _Resources(dict):
    """What the plugin expects of job.resources: .get() and attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Job:
    """The parts of a Snakemake job that the plugin's sbatch builder reads."""

    def __init__(self, rule: str, resources: dict, threads: int):
        self.name = rule
        self.resources = _Resources(resources)
        self.threads = threads

    def is_group(self) -> bool:
        return False


def sbatch_arguments(job: _Job, account: str = "dnabert", partition: str = PARTITION) -> list[str]:
    """The sbatch command line snakemake-executor-plugin-slurm builds for ``job`` (without --wrap)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    params = {
        "run_uuid": "dnabert-test",
        "slurm_logfile": "/dev/null",
        "comment_str": f"rule_{job.name}",
        "account": f" -A {account}",
        "partition": f" -p {partition}",
        "workdir": "/tmp",
    }
    return shlex.split(get_submit_command(job, params) + set_gres_string(job))


# --------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def cluster():
    """A running single-node cluster with two fake GPUs; stopped after the module's tests."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    slurm = LocalSlurm(gpus=2, gpu_type=GPU_TYPE, partition=PARTITION)
    slurm.start()  # on failure it stops what it started and raises with the daemons' logs
    try:
        yield slurm
    finally:
        slurm.stop()


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """One fine-tuned task of the tiny config, every job submitted with sbatch through profiles/slurm.

    The path from genome to corpus, pretraining and fine-tuning (the rules a cluster is for); the rest of the
    DAG runs in test_workflow.py, and the profile's requests for every rule are checked on a dry run below.
    """
    workdir = tmp_path_factory.mktemp("slurm_run")
    result = snakemake(
        workdir,
        SLURM_TARGET,
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(TINY),
        *SLURM_TEST_ARGS,
        env=cluster.env(),
        timeout=RUN_TIMEOUT,
    )
    return workdir, result, cluster


def test_tiny_finetuning_completes_on_slurm(slurm_run):
    workdir, result, cluster = slurm_run
    assert (
        result.returncode == 0
    ), f"snakemake on SLURM failed:\n{result.stdout[-3000:]}\n{result.stderr[-8000:]}\n{cluster.logs(15)}"
    assert "Using workflow specific profile" in result.stderr
    again = snakemake(workdir, "-n", SLURM_TARGET, "--configfile", str(TINY))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr


def test_every_job_ran_as_a_slurm_job(slurm_run):
    """Each non-local job was submitted with sbatch and is COMPLETED in SLURM's records."""
    workdir, result, cluster = slurm_run
    assert result.returncode == 0, "the SLURM run failed (see test_tiny_finetuning_completes_on_slurm)"
    log = result.stderr
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    jobs = dry_run_jobs(log)  # a real run prints the same job blocks
    remote = Counter(job["rule"] for job in jobs if not job["local"])
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", log)
    assert len(submitted) == sum(remote.values()), (remote, submitted)
    rules_submitted = Counter(re.search(r"/rule_(\w+)/", path).group(1) for _, path in submitted)
    assert rules_submitted == remote
    for rule in ("simulate_genome", "build_corpus", "pretrain_mlm", "finetune_seed"):
        if any(job["rule"] == rule for job in jobs):
            assert rule in rules_submitted, f"{rule} ran locally, not on SLURM"
    for rule in TRIVIAL_RULES:  # seconds each: run by Snakemake itself, not as SLURM jobs
        if any(job["rule"] == rule for job in jobs):
            assert rule not in rules_submitted and all(job["local"] for job in jobs if job["rule"] == rule), rule

    # SLURM's job completion log: every job of this run, finished, in our partition.
    records = {record["JobId"]: record for record in cluster.jobcomp_records() if record.get("Name") == run_id}
    for jobid, path in submitted:
        assert jobid in records, f"SLURM job {jobid} ({path}) is missing from {cluster.jobcomp_log}"
        assert records[jobid]["JobState"] == "COMPLETED", records[jobid]
        assert records[jobid]["Partition"] == PARTITION
    # ... and the controller still lists them (what the plugin polls).
    squeue = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--name", run_id, "--format=%i|%T"],
        env=cluster.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    states = dict(line.split("|") for line in squeue.stdout.split())
    assert {jobid: states.get(jobid) for jobid, _ in submitted} == {jobid: "COMPLETED" for jobid, _ in submitted}
    # The plugin's own per-job SLURM logs (kept with --slurm-keep-successful-logs).
    for jobid, path in submitted:
        assert Path(path).exists(), path


def test_account_and_partition_from_the_command_line(cluster, tmp_path):
    """The README's `--default-resources slurm_account=... slurm_partition=...` reaches sbatch."""
    target = "resources/simulated/tiny/truth.tsv"
    result = snakemake(
        tmp_path,
        target,
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(TINY),
        "--default-resources",
        "slurm_account=dnabert",
        f"slurm_partition={PARTITION}",
        *SLURM_TEST_ARGS,
        env=cluster.env(),
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stderr[-5000:]}\n{cluster.logs(15)}"
    assert (tmp_path / target).exists()
    run_id = re.search(r"SLURM run ID: (\S+)", result.stderr).group(1)
    records = [record for record in cluster.jobcomp_records() if record.get("Name") == run_id]
    assert records, f"no job of run {run_id} in {cluster.jobcomp_log}"
    for record in records:
        assert (record["Account"], record["Partition"], record["JobState"]) == ("dnabert", PARTITION, "COMPLETED")


# --------------------------------------------------------------------------- GPU requests


@pytest.fixture(scope="module")
def gpu_jobs(tmp_path_factory):
    """The dry run of the tiny config with 2 GPUs for pretraining and 1 per fine-tuning job, under the profile."""
    root = tmp_path_factory.mktemp("slurm_gpu")
    config = yaml.safe_load(TINY.read_text())
    config.setdefault("pretrain", {})["gpus"] = 2
    config.setdefault("finetune", {})["gpus"] = 1
    config.setdefault("interpret", {})["gpus"] = 1
    configfile = root / "gpu.yaml"
    configfile.write_text(yaml.safe_dump(config))
    result = snakemake(root, "-n", "--workflow-profile", str(PROFILE), "--configfile", str(configfile))
    assert result.returncode == 0, result.stderr[-5000:]
    return config, dry_run_jobs(result.stdout)


def _one(jobs: list[dict], rule: str) -> dict:
    found = [job for job in jobs if job["rule"] == rule]
    assert found, f"no {rule} job in the dry run"
    return found[0]


def test_gpu_rules_ask_for_gpus(gpu_jobs):
    config, jobs = gpu_jobs
    assert _one(jobs, "pretrain_mlm")["resources"]["gpu"] == 2
    assert _one(jobs, "finetune_seed")["resources"]["gpu"] == 1
    # Two GPUs: torchrun, one process per GPU, on one node.
    launcher = re.compile(r"(torchrun|torch\.distributed\.run)\s.*--nproc[_-]per[_-]node[ =]2\b")
    assert launcher.search(_one(jobs, "pretrain_mlm")["shell"]), _one(jobs, "pretrain_mlm")["shell"]
    assert _one(jobs, "pretrain_mlm")["resources"]["nodes"] == 1
    # Every GPU rule gets its own runtime and memory from the profile.
    profiled = yaml.safe_load((PROFILE / "config.v8+.yaml").read_text())["set-resources"]
    gpu_rules = {
        job["rule"] for job in jobs if isinstance(job["resources"].get("gpu"), int) and job["resources"]["gpu"] > 0
    }
    assert {"pretrain_mlm", "finetune_seed", "interpret_attention", "interpret_ism"} <= gpu_rules
    missing = gpu_rules - set(profiled)
    assert not missing, f"GPU rules without set-resources in profiles/slurm: {sorted(missing)}"
    # CPU rules ask for no GPU.
    assert not _one(jobs, "build_corpus")["resources"].get("gpu")


def test_sbatch_arguments_carry_the_gpu_request(gpu_jobs):
    config, jobs = gpu_jobs
    pretrain = _one(jobs, "pretrain_mlm")
    threads = config["pretrain"].get("threads", 8)
    args = sbatch_arguments(_Job("pretrain_mlm", pretrain["resources"], threads))
    assert "--gpus=2" in args
    assert "--nodes=1" in args
    assert f"--cpus-per-task={threads}" in args
    assert args[args.index("-t") + 1] == str(pretrain["resources"]["runtime"])
    assert args[args.index("--mem") + 1] == str(pretrain["resources"]["mem_mb"])
    assert args[args.index("-A") + 1] == "dnabert" and args[args.index("-p") + 1] == PARTITION
    # With a GPU model (set-resources pretrain_mlm:gpu_model=...): --gpus=MODEL:N.
    with_model = sbatch_arguments(_Job("pretrain_mlm", {**pretrain["resources"], "gpu_model": GPU_TYPE}, threads))
    assert f"--gpus={GPU_TYPE}:2" in with_model
    finetune = sbatch_arguments(_Job("finetune_seed", _one(jobs, "finetune_seed")["resources"], 1))
    assert "--gpus=1" in finetune
    cpu = sbatch_arguments(_Job("build_corpus", _one(jobs, "build_corpus")["resources"], 1))
    assert not any(arg.startswith(("--gpus", "--gres")) for arg in cpu)


def test_slurm_accepts_the_gpu_sbatch_arguments(gpu_jobs, cluster):
    """The real slurmctld validates the generated GPU requests (sbatch --test-only: nothing runs)."""
    config, jobs = gpu_jobs
    pretrain = _one(jobs, "pretrain_mlm")
    threads = min(config["pretrain"].get("threads", 8), cluster.cpus)
    requests = {
        "pretrain_mlm": sbatch_arguments(_Job("pretrain_mlm", pretrain["resources"], threads)),
        "pretrain_mlm+model": sbatch_arguments(
            _Job("pretrain_mlm", {**pretrain["resources"], "gpu_model": GPU_TYPE}, threads)
        ),
        "finetune_seed": sbatch_arguments(_Job("finetune_seed", _one(jobs, "finetune_seed")["resources"], 1)),
    }

    def test_only(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*args, "--test-only", "--wrap=true"], env=cluster.env(), capture_output=True, text=True, timeout=60
        )

    for name, args in requests.items():
        result = test_only(args)
        assert result.returncode == 0 and "to start at" in result.stderr, (name, args, result.stderr)
    # The check is real: more GPUs than the node has is refused.
    too_many = [arg.replace("--gpus=2", "--gpus=3") for arg in requests["pretrain_mlm"]]
    refused = test_only(too_many)
    assert refused.returncode != 0, refused.stderr


# --------------------------------------------------------------------------- retries and pre-emption


def _evaluate(rule: str, name: str, value, attempt: int):
    """A profile resource as Snakemake evaluates it for ``attempt`` (its own evaluator)."""
    from snakemake.resources import Resource

    if not isinstance(value, str):
        return value
    return Resource.cli_evaluator(name, value, wildcards={}, input=[], attempt=attempt, async_run=None)


def test_profile_sizes_grow_with_each_attempt():
    """retries resubmits a job that ran out of memory or time with more; resumable jobs keep their runtime."""
    profile = yaml.safe_load((PROFILE / "config.v8+.yaml").read_text())
    assert profile["retries"] >= 1
    for rule, resources in profile["set-resources"].items():
        for name in ("mem_mb", "runtime"):
            if name not in resources:
                continue
            first, second, third = (_evaluate(rule, name, resources[name], n) for n in (1, 2, 3))
            if name == "runtime" and rule in RESUMABLE_RULES:
                assert first == second == third, (rule, name)
            else:
                assert (second, third) == (2 * first, 3 * first), (rule, name, resources[name])
    for name in ("mem_mb", "runtime"):
        value = profile["default-resources"][name]
        assert _evaluate("default", name, value, 2) == 2 * _evaluate("default", name, value, 1)


def test_resumable_jobs_ask_for_sigusr1_before_the_time_limit(gpu_jobs):
    config, jobs = gpu_jobs
    for rule in RESUMABLE_RULES:
        job = _one(jobs, rule)
        assert job["resources"]["slurm_extra"] == "--signal=USR1@120", rule
        assert "--signal=USR1@120" in sbatch_arguments(_Job(rule, job["resources"], 1)), rule
    assert "slurm_extra" not in _one(jobs, "build_corpus")["resources"]


def test_local_rules_are_the_trivial_ones():
    """Every rule in TRIVIAL_RULES is declared in a localrules: block of its rules file."""
    declared = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.findall(r"^localrules:\n((?:    \w+,\n)+)", path.read_text(), flags=re.M):
            declared |= set(re.findall(r"(\w+),", block))
    assert set(TRIVIAL_RULES) <= declared, sorted(set(TRIVIAL_RULES) - declared)


def test_pretraining_checkpoints_on_sigusr1_and_the_retry_resumes(cluster, tmp_path):
    """SLURM's early warning (as --signal=USR1@120 sends it: to every process of the job's steps) makes
    pretraining write a checkpoint and exit 143; Snakemake, ignoring the signal, reports the failure and
    resubmits; the second attempt resumes from the checkpoint and finishes; the log keeps both attempts."""
    config = yaml.safe_load(TINY.read_text())
    config["pretrain"].update(steps=600, checkpoint_every_steps=100000, eval_every_steps=100000,
                              log_every_steps=20)  # fmt: skip
    configfile = tmp_path / "long.yaml"
    configfile.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "run"),
               "pretrain", "--workflow-profile", str(PROFILE), "--retries", "1", "--configfile", str(configfile),
               *SLURM_TEST_ARGS]  # fmt: skip
    process = subprocess.Popen(command, env=cluster.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)  # fmt: skip
    log = tmp_path / "run" / "logs" / "pretrain_mlm.log"
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not (log.exists() and re.search(r"step \d+/600", log.read_text())):
            assert process.poll() is None, process.communicate()[0][-5000:]
            assert time.monotonic() < deadline, "pretraining never started"
            time.sleep(1)
        jobs = subprocess.run(["squeue", "--noheader", "--states=RUNNING", "--format=%i %k"], env=cluster.env(),
                              capture_output=True, text=True, check=True).stdout.split("\n")  # fmt: skip
        [jobid] = [line.split()[0] for line in jobs if "pretrain_mlm" in line]
        subprocess.run(["scancel", "--signal=USR1", jobid], env=cluster.env(), check=True)
        out, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert process.returncode == 0, f"{out[-5000:]}\n{text[-3000:]}\n{cluster.logs(15)}"
    assert "received SIGUSR1" in text and "stopped by signal SIGUSR1" in text
    assert "==== attempt 1:" in text and "==== attempt 2:" in text
    second = text[text.index("==== attempt 2:"):]
    assert re.search(r"resum\w* from .*step_\d+", second), second[:2000]
    assert (tmp_path / "run" / "results" / "pretrain" / "model" / "config.json").is_file()
