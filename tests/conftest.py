"""Shared fixtures: the repository root and the real test data beside the project."""

from __future__ import annotations

import http.server
import importlib.util
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TINY = str(REPO / "tests" / "config" / "tiny.yaml")


def in_ci() -> bool:
    """True on a CI runner (CI=true, as GitHub Actions, GitLab CI and .ci/run set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def shared_file(relative: str) -> Path:
    """A file under ../shared/data; else skip the test saying what is missing, or fail in CI.

    In CI (``CI=true``) a missing file is a failure, so a runner without the shared
    data cannot pass by skipping every real-data test.
    """
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real test data absent: {path} (expected ../shared/data beside the project)"
        if in_ci():
            pytest.fail(f"{message}; CI=true, so this fails instead of skipping", pytrace=False)
        pytest.skip(message)
    return path


# Files whose tests use the session's tiny DAG run (tiny_run, tiny_runs): pytest-xdist runs them on one worker.
TINY_RUN_FILES = frozenset({"test_overwrite.py", "test_report.py", "test_workflow.py", "test_workflow_interpret.py"})


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadfile`` with the TINY_RUN_FILES as one file, so module and session fixtures (a Snakemake run,
    a SLURM cluster) are each built once, on one worker."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class TinyRunTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return "tiny_run" if Path(scope).name in TINY_RUN_FILES else scope

    return TinyRunTogether(config, log)


def pytest_collection_modifyitems(config, items):
    """Stop at collection when a file uses tiny_run but is not in TINY_RUN_FILES (it would build the run again)."""
    uses = {item.path.name for item in items if {"tiny_run", "tiny_runs"} & set(item.fixturenames)}
    if uses - TINY_RUN_FILES:
        raise pytest.UsageError(f"tests/conftest.py: add {sorted(uses - TINY_RUN_FILES)} to TINY_RUN_FILES")


def bench_module(name: str):
    """The benchmark script ``bench/<name>.py`` as a module, for tests that reuse its steps."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one torch thread (and do not stall on a loaded machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_classifier(k: int, **config):
    """A seeded 2-layer x 32 k-mer BERT classifier (2 classes) in eval mode; ``config`` overrides BertConfig."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from dnabert.lm import kmer

    settings = dict(vocab_size=kmer.vocab_size(k), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=64, max_position_embeddings=512, num_labels=2)  # fmt: skip
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(**{**settings, **config})).eval()


class LocalHTTPHandler(http.server.SimpleHTTPRequestHandler):
    """A quiet handler for a local test server (serve one with ``directory=``); a path under
    /truncated/ announces the whole file's Content-Length but sends half of it, then closes."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path.startswith("/truncated/"):
            data = Path(self.translate_path(self.path[len("/truncated"):])).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


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


# --------------------------------------------------------------------------- one tiny model


TINY_K = 3


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> dict:
    """One tiny random 3-mer BERT (1 layer, hidden 32), saved two ways, for tests of the model as a tool.

    ``release``: a masked LM in the DNABERT release format (config.json with DNABERT's extra
    keys, vocab.txt, a pickled ``pytorch_model.bin`` state dict); ``classifier``: the same
    encoder under a 2-class head, saved as fine-tuning saves it. ``k`` is 3.
    """
    import json

    import torch
    from transformers import BertForSequenceClassification

    from dnabert.lm import kmer
    from dnabert.lm.models import ModelSettings, bert_config, new_model, save_model

    root = tmp_path_factory.mktemp("tiny_bert")
    settings = ModelSettings(layers=1, hidden=32, heads=2, intermediate=64, dropout=0.0, attention_dropout=0.0)
    mlm = new_model(TINY_K, settings, seed=5).eval()
    release = root / "release"
    release.mkdir()
    config = mlm.config.to_dict()
    config = {key: config[key] for key in ("architectures", "attention_probs_dropout_prob", "hidden_act",
                                           "hidden_dropout_prob", "hidden_size", "initializer_range",
                                           "intermediate_size", "max_position_embeddings", "num_attention_heads",
                                           "num_hidden_layers", "type_vocab_size", "vocab_size")}  # fmt: skip
    config.update(split=10, rnn="lstm", num_rnn_layer=2, rnn_hidden=768, rnn_dropout=0.0)  # DNABERT's extra keys
    (release / "config.json").write_text(json.dumps(config, indent=2))
    kmer.write_vocab(release / "vocab.txt", TINY_K)
    torch.save({key: value.clone() for key, value in mlm.state_dict().items()}, release / "pytorch_model.bin")

    head_config = bert_config(TINY_K, settings)
    head_config.num_labels = 2
    head_config.initializer_range = 0.5  # a random head whose outputs vary with the input
    head_config.architectures = ["BertForSequenceClassification"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(6)
        classifier = BertForSequenceClassification(head_config)
    classifier.bert.load_state_dict(mlm.bert.state_dict(), strict=False)
    save_model(classifier.eval(), root / "classifier", TINY_K)
    return {"k": TINY_K, "release": release, "classifier": root / "classifier"}
