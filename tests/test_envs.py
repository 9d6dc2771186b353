"""Every rule has conda: and log:, every module its code imports is in that env, and envs are pinned."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO

# Python module -> conda package that provides it.
CONDA_PACKAGE = {
    "numpy": "numpy",
    "pysam": "pysam",
    "pyjaspar": "pyjaspar",
    "tqdm": "tqdm",
    "yaml": "pyyaml",
    "jsonschema": "jsonschema",
    "scipy": "scipy",
    "pandas": "pandas",
    "sklearn": "scikit-learn",
    "torch": "pytorch",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "memelite": "memelite",
    "logomaker": "logomaker",
    "matplotlib": "matplotlib-base",
    "seaborn": "seaborn",
    "numba": "numba",
    "snakemake": "snakemake-minimal",
    "jinja2": "jinja2",
    "huggingface_hub": "huggingface_hub",
    "peft": "peft",
    "tensorboard": "tensorboard",
    "captum": "captum",
    "modiscolite": "modisco-lite",
}
PACKAGE_DIR = REPO / "workflow" / "dnabert"
SCRIPTS_DIR = REPO / "workflow" / "scripts"

_PROBE = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
snakefile, configfile, workdir = sys.argv[1:4]
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path(configfile)]),
        snakefile=Path(snakefile), workdir=Path(workdir),
    )._workflow
    rules = [{"name": r.name, "conda": r.conda_env, "script": r.script, "shell": r.shellcmd,
              "log": [str(f) for f in r.log], "action": not r.norun} for r in workflow.rules]
print("RULES=" + json.dumps(rules))
"""


@cache
def workflow_rules(configfile: str) -> list[dict]:
    """The rules of the workflow as Snakemake parses them, for one config."""
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, str(REPO / "Snakefile"), str(REPO / configfile), workdir],
            capture_output=True, text=True, check=True,
        )
    line = next(line for line in result.stdout.splitlines() if line.startswith("RULES="))
    return json.loads(line[len("RULES="):])


def _module_file(name: str) -> Path | None:
    """The project file behind a module name, if it is ours."""
    if name.split(".")[0] == "_glue":
        return SCRIPTS_DIR / "_glue.py"
    if name == "dnabert" or name.startswith("dnabert."):
        parts = name.split(".")[1:]
        candidate = PACKAGE_DIR.joinpath(*parts)
        return candidate / "__init__.py" if candidate.is_dir() else candidate.with_suffix(".py")
    return None


def third_party_imports(path: Path, seen: set[Path] | None = None) -> set[str]:
    """Top-level third-party modules imported by ``path`` and, transitively, by our modules it imports."""
    seen = set() if seen is None else seen
    if path in seen:
        return set()
    seen.add(path)
    found: set[str] = set()
    package = "dnabert" if PACKAGE_DIR in path.parents else None
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside the package
                base = node.module or ""
                names = [f"{package}.{base}".rstrip(".")] + [f"{package}.{base}.{a.name}".replace("..", ".") for a in node.names]
            else:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            own = _module_file(name)
            if own is not None:
                if own.exists():
                    found |= third_party_imports(own, seen)
                continue
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return found


def env_packages(env_file: Path) -> dict[str, str]:
    """Conda package name -> pinned spec from an env file (pip: entries included)."""
    env = yaml.safe_load(env_file.read_text())
    specs: list[str] = []
    for entry in env["dependencies"]:
        specs += entry["pip"] if isinstance(entry, dict) else [entry]
    packages = {}
    for spec in specs:
        name = spec.split("=")[0].split("<")[0].split(">")[0].strip().lower()
        packages[name] = spec
    return packages


def rule_code(rule: dict, rules_dir: Path) -> list[Path]:
    """Python files a rule runs: its script, or dnabert modules run with `python -m`."""
    files = []
    if rule["script"]:
        files.append((rules_dir / rule["script"]).resolve())
    for word in (rule["shell"] or "").split():
        module = _module_file(word) if word.startswith("dnabert") else None
        if module is not None:
            files.append(module)
    return files


RULES = workflow_rules("config/config.yaml")
ACTION_RULES = [rule for rule in RULES if rule["action"]]


def test_workflow_has_rules():
    assert {"simulate_genome", "prepare_genome", "download", "prepare_blacklist"} <= {r["name"] for r in RULES}


@pytest.mark.parametrize("rule", ACTION_RULES, ids=lambda r: r["name"])
def test_rule_has_conda_and_log(rule):
    assert rule["conda"], f"rule {rule['name']} has no conda: directive"
    assert rule["log"], f"rule {rule['name']} has no log: directive"


@pytest.mark.parametrize("rule", ACTION_RULES, ids=lambda r: r["name"])
def test_rule_env_has_every_imported_module(rule):
    rules_dir = REPO / "workflow" / "rules"
    env_file = (rules_dir / rule["conda"]).resolve()
    assert env_file.is_file(), f"rule {rule['name']}: env file {env_file} missing"
    packages = env_packages(env_file)
    code = rule_code(rule, rules_dir)
    assert code, f"rule {rule['name']}: no script or `python -m dnabert...` found to check"
    imported = set().union(*(third_party_imports(path) for path in code))
    unknown = sorted(imported - set(CONDA_PACKAGE))
    assert not unknown, f"add the conda package for {unknown} to CONDA_PACKAGE in this test"
    missing = sorted(CONDA_PACKAGE[module] for module in imported if CONDA_PACKAGE[module] not in packages)
    assert not missing, f"rule {rule['name']}: {env_file.name} lacks {missing} (imported by {[p.name for p in code]})"


@pytest.mark.parametrize("env_file", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_is_pinned_and_used(env_file):
    env = yaml.safe_load(env_file.read_text())
    assert "conda-forge" in env["channels"]
    unpinned = [spec for spec in env_packages(env_file).values() if "=" not in spec]
    assert not unpinned, f"{env_file.name}: pin these: {unpinned}"
    used = {(REPO / "workflow" / "rules" / r["conda"]).resolve() for r in ACTION_RULES}
    assert env_file.resolve() in used, f"{env_file.name} is used by no rule"


def test_import_scan_follows_package_imports(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("from _glue import run\nfrom dnabert.data.download import fetch\nimport json\n")
    assert third_party_imports(script) == {"tqdm"}  # via dnabert.data.download
