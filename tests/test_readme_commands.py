"""Every `snakemake` command line in README.md and config/README.md works as written: each is dry-run.

Commands are taken from fenced code blocks (lines starting with ``snakemake``, ``\\``
continuations joined, ``# comments`` dropped) and from inline code spans that start with
``snakemake``. Each runs with ``-n`` appended, one after another, in one temporary project
directory whose ``Snakefile``, ``workflow/``, ``config/``, ``profiles/`` and ``envs/`` link to
this checkout, beside a ``shared`` link to ``../shared`` (so ``../shared/data/...`` paths resolve).
A dry run does not download, train or submit, so configs that download hg38 or submit to
SLURM are checked offline. What cannot run here is substituted, and only that:

* ``my.yaml`` (the user's own config) is a copy of ``config/config.yaml``, as the README suggests;
* ``/data/GUE`` (a GUE download) is ``../shared/data/dnabert2``, a GUE-style folder of DNABERT-2's
  sample CSVs; ``/shared/envs`` (a conda prefix) is a temporary folder;
* without a ``conda`` executable, ``--use-conda``, ``--sdm conda`` and ``--conda-create-envs-only``
  are dropped (Snakemake would stop at ``conda info``);
* ``--report FILE`` needs a finished run: it is replaced by the dry run of the same command line
  (tests/test_report.py builds the report of a real run with the same report rule).

Commands that are not lines starting with ``snakemake`` (``sudo ... local_slurm.py -- snakemake ...``)
are not run here; tests/test_slurm.py runs that one.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.workflow
DOCS = ("README.md", "config/README.md")
LINKED = ("Snakefile", "workflow", "config", "profiles", "envs")
FENCE = re.compile(r"^```.*?^```", flags=re.M | re.S)
CONDA_FLAGS = {"--use-conda": 0, "--conda-create-envs-only": 0, "--sdm": 1}


def fenced_commands(text: str) -> list[str]:
    """`snakemake` lines of fenced code blocks, continuations joined and comments dropped."""
    commands = []
    for block in FENCE.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("snakemake "):
                commands.append(line.split(" #", 1)[0].strip())
    return commands


def inline_commands(text: str) -> list[str]:
    """Inline code spans (outside fenced blocks) that start with `snakemake`, whitespace normalised."""
    prose = FENCE.sub("", text)
    return [" ".join(span.split()) for span in re.findall(r"`(snakemake(?: [^`]*)?)`", prose)]


def documented_commands() -> list[tuple[str, str]]:
    """(document, command) for every snakemake command line of the documents, in order, without repeats."""
    found: dict[str, str] = {}
    for doc in DOCS:
        text = (REPO / doc).read_text()
        for command in fenced_commands(text) + inline_commands(text):
            found.setdefault(command, doc)
    return [(doc, command) for command, doc in found.items()]


def substituted(command: str, workdir: Path) -> list[str]:
    """The command's arguments (after `snakemake`) with what cannot run offline substituted, plus -n."""
    args = shlex.split(command)[1:]
    args = [{"my.yaml": str(workdir / "my.yaml"), "/shared/envs": str(workdir / "conda")}.get(a, a) for a in args]
    args = [a.replace("/data/GUE", "../shared/data/dnabert2") for a in args]
    out: list[str] = []
    skip = 0
    for i, arg in enumerate(args):
        if skip:
            skip -= 1
            continue
        if shutil.which("conda") is None and arg in CONDA_FLAGS:
            skip = CONDA_FLAGS[arg]
            continue
        if arg == "--report":
            skip = 1 if i + 1 < len(args) and not args[i + 1].startswith("-") else 0
            continue
        out.append(arg)
    return out + ["-n"]


def test_documents_hold_the_commands_this_test_knows():
    commands = [command for _, command in documented_commands()]
    assert len(commands) >= 20
    gue = [c for c in commands if "config/gue.yaml" in c]
    assert gue and all(c.index("benchmarks") < c.index("--configfile") for c in gue if "benchmarks" in c)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """One temporary project directory linked to this checkout (shared by every command)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data absent: {SHARED_DATA} (the GUE command reads ../shared/data)")
    root = tmp_path_factory.mktemp("readme")
    (root / "shared").symlink_to(SHARED_DATA.parent)
    workdir = root / "project"
    workdir.mkdir()
    for name in LINKED:
        (workdir / name).symlink_to(REPO / name)
    shutil.copy(REPO / "config" / "config.yaml", workdir / "my.yaml")
    return workdir


@pytest.mark.parametrize(("doc", "command"), documented_commands(), ids=lambda value: value)
def test_documented_command_dry_runs(project, doc, command):
    args = substituted(command, project)
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=project, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{doc}: `{command}` (run as snakemake {' '.join(args)}) failed:\n{output[-4000:]}"
    assert "Error" not in output, f"{doc}: `{command}`:\n{output[-4000:]}"
