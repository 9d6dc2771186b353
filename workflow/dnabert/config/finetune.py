"""The ``finetune:`` and ``baselines:`` config sections as the rules need them.

Imports only the standard library: it runs in whatever Python runs Snakemake.

* :func:`task_settings` and :func:`task_seeds`: the ``finetune:`` settings with a
  task's overrides (``finetune.tasks.<task>``) applied.
* :func:`encoder_source`: the model directory a task's runs start from.
* :func:`scratch_settings`: the same recipe from a random initialisation (``bert_scratch``).
* :func:`lr_grid`: the learning rates a task's first seed tries (``finetune.lr_grid``, else ``lr``).
* :func:`finetune_problems`: checks the schema cannot express.
* :func:`add_gue_tasks`: a GUE / DNABERT-2 benchmark folder (``finetune.gue.folder``)
  becomes one ``table`` task per sub-folder that holds train, dev and test CSVs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Keys of ``finetune:`` that belong to the rules, not to one run's training settings.
RULE_KEYS = ("seeds", "gpus", "threads", "tasks", "gue", "predict", "lr_grid")
#: Fields of dnabert.lm.models.ModelSettings (for init: scratch).
MODEL_KEYS = ("layers", "hidden", "heads", "intermediate", "max_positions", "dropout", "attention_dropout")
SPLITS = ("train", "dev", "test")


def _section(config: dict) -> dict:
    return config.get("finetune") or {}


def task_settings(config: dict, task: str) -> dict[str, Any]:
    """One task's training settings: ``finetune:`` defaults, then ``finetune.tasks.<task>``.

    ``scratch_model: null`` resolves to ``pretrain.model`` (a like-for-like ablation).
    """
    section = _section(config)
    merged = {key: value for key, value in section.items() if key not in RULE_KEYS}
    merged.update((section.get("tasks") or {}).get(task) or {})
    merged.pop("seeds", None)
    merged.pop("lr_grid", None)
    if merged.get("scratch_model") is None:
        merged["scratch_model"] = _encoder_architecture(config, merged)
    return merged


def _encoder_architecture(config: dict, settings: dict) -> dict[str, Any]:
    """The architecture a from-scratch run copies: the released model's, else ``pretrain.model``."""
    if settings.get("init") == "released" and settings.get("released"):
        path = Path(settings["released"]) / "config.json"
        if path.is_file():
            released = json.loads(path.read_text())
            names = {"layers": "num_hidden_layers", "hidden": "hidden_size", "heads": "num_attention_heads",
                     "intermediate": "intermediate_size", "max_positions": "max_position_embeddings"}
            return {key: released[name] for key, name in names.items() if name in released}
    return dict((config.get("pretrain") or {}).get("model") or {})


def scratch_settings(config: dict, task: str) -> dict[str, Any]:
    """``bert_scratch``: the task's recipe and architecture, from a random initialisation."""
    return {**task_settings(config, task), "init": "scratch"}


def lr_grid(config: dict, task: str) -> list[float]:
    """Learning rates a task's first seed tries on dev.

    In order of precedence: ``finetune.tasks.<task>.lr_grid``, a task's own ``lr`` (no
    search), ``finetune.lr_grid``, ``finetune.lr``.
    """
    section = _section(config)
    override = (section.get("tasks") or {}).get(task) or {}
    if override.get("lr_grid"):
        grid = override["lr_grid"]
    elif "lr" in override or not section.get("lr_grid"):
        grid = [task_settings(config, task).get("lr", 2e-4)]
    else:
        grid = section["lr_grid"]
    return [float(lr) for lr in grid]


def bert_scratch_wanted(config: dict) -> bool:
    """Whether ``bert_scratch`` runs: listed in ``baselines.models`` and not already the main model."""
    models = (config.get("baselines") or {}).get("models") or []
    return "bert_scratch" in models and _section(config).get("init", "pretrained") != "scratch"


def task_seeds(config: dict, task: str) -> list[int]:
    """The seeds of a task's fine-tuning runs (``finetune.tasks.<task>.seeds`` or ``finetune.seeds``)."""
    section = _section(config)
    override = ((section.get("tasks") or {}).get(task) or {}).get("seeds")
    return list(override or section.get("seeds") or [1, 2, 3])


def encoder_source(config: dict, task: str, pretrained_dir: str) -> str | None:
    """The model directory a task starts from: the pretrained model, the released one, or None (scratch)."""
    settings = task_settings(config, task)
    init = settings.get("init", "pretrained")
    if init == "pretrained":
        return pretrained_dir
    if init == "released":
        return settings.get("released")
    return None


def finetune_problems(config: dict) -> Iterator[str]:
    """Checks on ``finetune:`` and ``baselines:`` that the schema cannot express."""
    section = _section(config)
    tasks = config.get("tasks") or {}
    for task in section.get("tasks") or {}:
        if task not in tasks:
            yield f"finetune.tasks.{task}: no such task (tasks: {', '.join(tasks) or 'none'})"
    for task in tasks:
        settings = task_settings(config, task)
        where = f"finetune.tasks.{task}" if task in (section.get("tasks") or {}) else "finetune"
        if settings.get("init") == "released":
            released = settings.get("released")
            if not released:
                yield f"{where}.released: init is released, so give the released DNABERT model directory"
            elif not (Path(released) / "config.json").is_file():
                yield f"{where}.released: not a model directory (no config.json): {released}"
        bad = sorted(set(settings.get("scratch_model") or {}) - set(MODEL_KEYS))
        if bad:
            yield f"{where}.scratch_model: unknown keys {', '.join(bad)}; allowed: {', '.join(MODEL_KEYS)}"
    for name, spec in (section.get("predict") or {}).items():
        where = f"finetune.predict.{name}"
        if spec["task"] not in tasks:
            yield f"{where}.task: no such task {spec['task']!r} (tasks: {', '.join(tasks) or 'none'})"
        elif spec.get("seed") is not None and spec["seed"] not in task_seeds(config, spec["task"]):
            yield f"{where}.seed: {spec['seed']} is not one of the task's seeds {task_seeds(config, spec['task'])}"
        given = [key for key in ("fasta", "bed") if spec.get(key)]
        if len(given) != 1:
            yield f"{where}: give exactly one of fasta or bed (found: {', '.join(given) or 'none'})"


def prediction_seed(config: dict, name: str) -> int:
    """The seed whose model scores ``finetune.predict.<name>`` (default: the task's first seed)."""
    spec = _section(config)["predict"][name]
    return spec["seed"] if spec.get("seed") is not None else task_seeds(config, spec["task"])[0]


# --------------------------------------------------------------------------- GUE folders


def task_name(relative: str) -> str:
    """A task name from a sub-folder path: ``EMP/H3`` -> ``EMP_H3``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", relative.strip("/").replace("/", "_")) or "benchmark"


def _split_file(folder: Path, split: str) -> Path | None:
    """``<split>.csv``, or the one ``*_<split>.csv`` (e.g. DNABERT2_sample_data_train.csv)."""
    exact = folder / f"{split}.csv"
    if exact.is_file():
        return exact
    found = sorted(folder.glob(f"*_{split}.csv"))
    return found[0] if len(found) == 1 else None


def gue_tasks(folder: str | Path, include: list[str] | None = None) -> dict[str, dict]:
    """One table task per sub-folder (the folder itself included) holding train, dev and test CSVs.

    Raises ValueError naming the problem (no such folder, no benchmark found, an
    ``include`` entry that is not a benchmark folder).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(
            f"finetune.gue.folder: not a directory: {folder} (unpack the GUE benchmark there, "
            "or point finetune.gue.folder to it)"
        )
    found: dict[str, dict] = {}
    for directory in sorted([root, *(p for p in root.rglob("*") if p.is_dir())]):
        files = {split: _split_file(directory, split) for split in SPLITS}
        if not all(files.values()):
            continue
        relative = directory.relative_to(root).as_posix()
        if relative == ".":
            relative = root.resolve().name
        found[relative] = {
            "type": "table",
            "files": [{"path": str(files[split]), "split": split} for split in SPLITS],
        }
    if include is not None:
        missing = [name for name in include if name.strip("/") not in found]
        if missing:
            raise ValueError(
                f"finetune.gue.include: not benchmark folders under {folder}: {', '.join(missing)} "
                f"(found: {', '.join(found) or 'none'})"
            )
        found = {name: spec for name, spec in found.items() if name in {n.strip('/') for n in include}}
    if not found:
        raise ValueError(f"finetune.gue.folder: no sub-folder of {folder} holds train, dev and test CSVs")
    tasks = {}
    for relative, spec in found.items():
        name = task_name(relative)
        if name in tasks:
            raise ValueError(f"finetune.gue.folder: two benchmark folders map to the task name {name!r}")
        tasks[name] = spec
    return tasks


def add_gue_tasks(config: dict) -> list[str]:
    """Add the table tasks of ``finetune.gue.folder`` to ``config['tasks']``; return their names.

    Runs before schema validation, so it only acts on a well-formed ``gue`` mapping
    and leaves anything else for the schema to report.
    """
    gue = (config.get("finetune") or {}).get("gue")
    if not isinstance(gue, dict) or not isinstance(gue.get("folder"), str):
        return []
    from dnabert.io import ConfigError

    include = gue.get("include")
    try:
        tasks = gue_tasks(gue["folder"], include if isinstance(include, list) else None)
    except ValueError as err:
        raise ConfigError([str(err)]) from None
    if config.get("tasks") is None:
        config["tasks"] = {}
    existing = config["tasks"]
    if not isinstance(existing, dict):
        return []  # the schema reports it
    clash = sorted(set(tasks) & set(existing))
    if clash:
        raise ConfigError([f"finetune.gue.folder: task names already configured under tasks: {', '.join(clash)}"])
    existing.update(tasks)
    return list(tasks)
