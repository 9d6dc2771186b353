"""Shared fixtures: the repository root and the real test data beside the project."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY = str(REPO / "tests" / "config" / "tiny.yaml")


def shared_file(relative: str) -> Path:
    """A file under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real test data absent: {path} (expected ../shared/data beside the project)")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


def run_snakemake(workdir: Path, *args: str, check: bool = True):
    """Run the workflow's Snakefile in ``workdir`` (outputs land there) and return the result."""
    import os
    import subprocess
    import sys
    import tempfile

    # One numba cache for every test run (memelite's and modisco-lite's kernels compile once, not once per run).
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR",
                                                          str(Path(tempfile.gettempdir()) / "dnabert-tests-numba"))}
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args],
        capture_output=True,
        text=True,
        env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The tiny DAG (tests/config/tiny.yaml), report included, run in a fresh directory.

    Session-scoped, so test_workflow.py and test_report.py share one run.
    """
    workdir = tmp_path_factory.mktemp("first")
    run_snakemake(workdir, "--cores", "2", "--configfile", TINY)
    return workdir


@pytest.fixture(scope="session")
def tiny_runs(tiny_run, tmp_path_factory) -> list[Path]:
    """The tiny DAG run twice in two fresh directories (the first is `tiny_run`), to compare them.

    The second run leaves out the report's rules (workflow/rules/report.smk): the report holds
    run times and dates, so it is not compared, and test_report.py checks the first run's.
    """
    report_rules = re.findall(r"^rule (\w+):", (REPO / "workflow" / "rules" / "report.smk").read_text(), flags=re.M)
    workdir = tmp_path_factory.mktemp("second")
    run_snakemake(workdir, "--cores", "2", "--configfile", TINY, "--omit-from", *report_rules)
    return [tiny_run, workdir]


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    lines = dry_run_output.splitlines()
    start = lines.index("Job stats:") + 3
    counts = {}
    for line in lines[start:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="session")
def small_genome(tmp_path_factory):
    """A small simulated genome (three chromosomes), normalised and indexed, with its GTF, peaks and truth.

    Returns a dict of paths: fasta, sizes, blacklist, gtf, truth, peaks_CTCF.
    """
    from dnabert.data.genome import normalise_fasta, prepare_bed_mask, write_chrom_sizes
    from dnabert.data.simulate.generate import simulate
    from dnabert.data.simulate.settings import SimulationSettings, TFSpec

    root = tmp_path_factory.mktemp("small_genome")
    settings = SimulationSettings(
        seed=11,
        chromosomes={"chrA": 300_000, "chrB": 200_000, "chrC": 200_000},
        genes=30,
        tfs=(TFSpec("CTCF", "MA0139.2", 200, 0.8),),
        blacklist_regions=2,
    )
    simulate(settings, root / "sim")
    lengths = normalise_fasta(root / "sim" / "genome.fa.gz", root / "genome.fa.gz")
    write_chrom_sizes(lengths, root / "chrom.sizes")
    prepare_bed_mask(root / "sim" / "blacklist.bed.gz", root / "blacklist.bed.gz", dict(lengths))
    return {
        "fasta": root / "genome.fa.gz",
        "sizes": root / "chrom.sizes",
        "blacklist": root / "blacklist.bed.gz",
        "gtf": root / "sim" / "genes.gtf.gz",
        "truth": root / "sim" / "truth.tsv",
        "peaks_CTCF": root / "sim" / "peaks" / "CTCF.narrowPeak.gz",
    }
