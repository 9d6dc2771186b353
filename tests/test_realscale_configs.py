"""The real-scale configs (config/hg38.yaml, config/mm10.yaml): offline dry runs list
the expected jobs per rule, and every download is checksummed or loudly unverified."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import REPO, job_counts, run_snakemake
from dnabert.config.finetune import bert_scratch_wanted
from dnabert.config.validation import task_sources, unverified_downloads, validate_config

pytestmark = pytest.mark.workflow
CONFIGS = ["hg38", "mm10"]
SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"


def load(name: str) -> dict:
    """A real-scale config with the schema defaults filled in."""
    config = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
    validate_config(config, SCHEMA)
    return config


def download_sources(node, where: str = "") -> Iterator[tuple[str, dict]]:
    """Every mapping in the config that downloads something (url or encode key), with its key path."""
    if isinstance(node, dict):
        if "url" in node or "encode" in node:
            yield where, node
        for key, value in node.items():
            yield from download_sources(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from download_sources(value, f"{where}.{i}")


def expected_counts(config: dict) -> dict[str, int]:
    """Jobs per rule that the dry run of a real-scale config must list, computed from the config.

    Only the rules this test knows; later stages (interpretation, report) add their own rules,
    which are not checked here.
    """
    genome = config["genome"]
    tasks = config["tasks"]
    overrides = config["finetune"]["tasks"]
    seeds = sum(len(overrides.get(task, {}).get("seeds", config["finetune"]["seeds"])) for task in tasks)
    classic = [model for model in config["baselines"]["models"] if model != "bert_scratch"]
    scratch = bert_scratch_wanted(config)
    downloads = sum(1 for spec in (genome, genome["blacklist"]) if spec and "url" in spec)
    downloads += sum(1 for spec in task_sources(config).values() if "url" in spec or "encode" in spec)
    return {
        "download": downloads,
        "prepare_genome": 1,
        "prepare_blacklist": 1 if genome["blacklist"] else 0,
        "build_corpus": 1,
        "pretrain_mlm": 1,
        "task_dataset": len(tasks),
        "dataset_qc": len(tasks),
        "finetune_seed": seeds,
        "finetune_task": len(tasks),
        "baseline": len(tasks) * len(classic),
        "scratch_seed": seeds if scratch else 0,
        "scratch_task": len(tasks) if scratch else 0,
        "benchmark_summary": 1 if tasks else 0,
        "predict": len(config["finetune"]["predict"]),
        "simulate_genome": 0,
        "all": 1,
    }


@pytest.fixture(scope="module", params=CONFIGS)
def dry_run(request, tmp_path_factory):
    """(config name, validated config, dry-run result, working directory) for each real-scale config."""
    workdir = tmp_path_factory.mktemp(f"dry_{request.param}")
    result = run_snakemake(workdir, "-n", "--configfile", str(REPO / "config" / f"{request.param}.yaml"))
    return request.param, load(request.param), result, workdir


def test_dry_run_lists_the_expected_jobs_per_rule(dry_run):
    name, config, result, _ = dry_run
    counts = job_counts(result.stdout)
    for rule, expected in expected_counts(config).items():
        assert counts.get(rule, 0) == expected, (name, rule, counts)


def test_dry_run_is_offline_and_writes_nothing(dry_run):
    """A dry run downloads nothing: no resources/ or results/ appear in the working directory."""
    _, _, _, workdir = dry_run
    assert not (workdir / "resources").exists() and not (workdir / "results").exists()


def test_dry_run_names_every_download_target(dry_run):
    name, config, result, _ = dry_run
    output = result.stdout
    assert f"resources/download/{name}/genome.fa.gz" in output
    assert f"resources/download/{name}/blacklist.bed.gz" in output
    for (task, role), spec in task_sources(config).items():
        assert f"resources/download/{name}/task.{task}.{role}." in output, (task, role)


def test_unverified_downloads_are_warned_at_start(dry_run):
    """Each unverified: true source gets one WARNING naming its url and where its sha256 will be written."""
    name, config, result, _ = dry_run
    output = result.stdout + result.stderr
    unverified = unverified_downloads(config)
    warnings = [line for line in output.splitlines() if "unverified download" in line]
    assert len(warnings) == len(unverified), (name, warnings)
    for key, url, target in unverified:
        assert any(key in w and url in w and f"{target}.sha256" in w for w in warnings), (name, key)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_download_has_a_checksum_or_is_marked_unverified(name):
    raw = yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())
    sources = list(download_sources(raw))
    assert len(sources) >= 4, sources  # genome, blacklist and the task files
    for where, spec in sources:
        checksums = [key for key in ("md5", "sha256") if spec.get(key)]
        assert (len(checksums) == 1) != (spec.get("unverified") is True), (name, where, spec)
    assert raw["genome"].get("md5") or raw["genome"].get("sha256"), "the genome itself must be verified"


@pytest.mark.parametrize("name", CONFIGS)
def test_every_checksum_says_where_it_came_from(name):
    """Each checksum and each unverified flag has a YAML comment (its provenance) a few lines above."""
    lines = [line for line in (REPO / "config" / f"{name}.yaml").read_text().splitlines() if line.strip()]
    pinned = [i for i, line in enumerate(lines) if not line.lstrip().startswith("#")
              and any(marker in line for marker in ("md5:", "sha256:", "unverified: true"))]
    assert pinned
    for i in pinned:
        assert any(line.lstrip().startswith("#") for line in lines[max(0, i - 6):i]), (name, lines[i])


@pytest.mark.parametrize("name", CONFIGS)
def test_paper_settings(name):
    """DNABERT-base sizes and the paper's recipe, the same in both configs; DNABERT's benchmark tasks."""
    config = load(name)
    assert config["kmer"] == 6
    assert config["pretrain"]["model"] == {"layers": 12, "hidden": 768, "heads": 12, "intermediate": 3072,
                                           "max_positions": 512, "dropout": 0.1, "attention_dropout": 0.1}
    assert config["pretrain"]["steps"] == 120000 and config["pretrain"]["optimizer"]["lr"] == 4.0e-4
    assert config["pretrain"]["optimizer"]["warmup_steps"] == 10000
    human = load("hg38")
    assert config["pretrain"] == human["pretrain"] and config["finetune"] == human["finetune"]
    assert config["finetune"]["lr"] == 2e-4 and config["finetune"]["epochs"] == 5
    tasks = config["tasks"]
    assert (tasks["prom300"]["upstream"], tasks["prom300"]["downstream"]) == (249, 50)
    assert (tasks["prom_core"]["upstream"], tasks["prom_core"]["downstream"]) == (70, 30)
    assert tasks["prom300"]["format"] == tasks["prom_core"]["format"] == "bed"
    assert tasks["splice"]["type"] == "splice" and tasks["splice"]["window"] == 400
    if name == "hg38":
        assert {t for t, s in tasks.items() if s["type"] == "peaks"} >= {"ctcf", "nrf1"}


def test_pre_fetch_command_lists_only_downloads(tmp_path):
    """config/README.md's login-node pre-fetch: --until download runs the download jobs and nothing else."""
    result = run_snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "hg38.yaml"), "--until", "download")
    counts = job_counts(result.stdout)
    assert set(counts) == {"download"} and counts["download"] == expected_counts(load("hg38"))["download"]


def test_encode_task_adds_its_jobs(tmp_path):
    """One more ENCODE task adds one download and that task's own jobs to the hg38 DAG."""
    config = yaml.safe_load((REPO / "config" / "hg38.yaml").read_text())
    extra = copy.deepcopy(config)
    extra["tasks"]["rest"] = {"type": "peaks", "peaks": {"encode": "ENCFF407IVS", "md5": "0" * 32}}
    path = Path(tmp_path / "extra.yaml")
    path.write_text(yaml.safe_dump(extra))
    counts = job_counts(run_snakemake(tmp_path, "-n", "--configfile", str(path)).stdout)
    expected = expected_counts(load("hg38"))
    assert counts["download"] == expected["download"] + 1
    assert counts["task_dataset"] == expected["task_dataset"] + 1
    assert counts["finetune_seed"] == expected["finetune_seed"] + len(config["finetune"]["seeds"])
