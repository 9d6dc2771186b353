"""The finetune:/baselines: config sections: per-task merging, checks, GUE folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO
from dnabert.config.validation import ConfigError, schema_problems
from dnabert.config.finetune import (
    add_gue_tasks,
    encoder_source,
    finetune_problems,
    gue_tasks,
    prediction_seed,
    task_name,
    task_seeds,
    task_settings,
)

SCHEMA = REPO / "config" / "schema" / "config.schema.yaml"


def _config(**finetune) -> dict:
    return {
        "tasks": {"ctcf": {"type": "peaks"}, "splice": {"type": "splice"}},
        "pretrain": {"model": {"layers": 2, "hidden": 64}},
        "finetune": {"init": "pretrained", "lr": 2e-4, "seeds": [1, 2, 3], "scratch_model": None, "gpus": 0,
                     "threads": 4, "predict": {}, "gue": {"folder": None}, **finetune},
    }  # fmt: skip


def test_task_overrides_win_and_rule_keys_stay_out():
    config = _config(tasks={"splice": {"lr": 1e-4, "seeds": [5], "init": "scratch"}})
    assert task_settings(config, "ctcf")["lr"] == 2e-4
    splice = task_settings(config, "splice")
    assert splice["lr"] == 1e-4 and splice["init"] == "scratch"
    assert not {"seeds", "gpus", "threads", "tasks", "predict", "gue"} & set(splice)
    assert splice["scratch_model"] == {"layers": 2, "hidden": 64}  # like-for-like with pretrain.model
    assert task_seeds(config, "ctcf") == [1, 2, 3] and task_seeds(config, "splice") == [5]
    assert encoder_source(config, "ctcf", "results/pretrain/model") == "results/pretrain/model"
    assert encoder_source(config, "splice", "results/pretrain/model") is None


def test_problems_name_the_key(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    config = _config(tasks={"ctfc": {"lr": 1e-3}, "splice": {"init": "released", "released": str(release)}},
                     predict={"p": {"task": "ctcf", "seed": 9, "fasta": "x.fa"},
                              "q": {"task": "nope", "bed": "x.bed"}, "r": {"task": "ctcf"}})  # fmt: skip
    problems = list(finetune_problems(config))
    assert any(p.startswith("finetune.tasks.ctfc: no such task") for p in problems)
    assert any(p.startswith("finetune.tasks.splice.released: not a model directory") for p in problems)
    assert any(p.startswith("finetune.predict.p.seed: 9 is not one of") for p in problems)
    assert any(p.startswith("finetune.predict.q.task: no such task 'nope'") for p in problems)
    assert any(p.startswith("finetune.predict.r: give exactly one of fasta or bed") for p in problems)
    (release / "config.json").write_text("{}")
    config["finetune"]["tasks"] = {}
    config["finetune"]["predict"] = {"p": {"task": "ctcf", "seed": None, "fasta": "x.fa"}}
    assert list(finetune_problems(config)) == []
    assert prediction_seed(config, "p") == 1


def test_schema_accepts_the_documented_sections_and_rejects_typos():
    base = {"genome": {"name": "g", "path": "g.fa"}}
    good = base | {"finetune": {"tasks": {"ctcf": {"lr": 1e-4, "epochs": 2}}, "predict": {"p": {"task": "ctcf",
                   "bed": "x.bed"}}}, "baselines": {"models": ["cnn"], "cnn": {"filters": 8}}}  # fmt: skip
    assert schema_problems(good, SCHEMA) == []
    bad = base | {"finetune": {"tasks": {"ctcf": {"learning_rate": 1e-4}}}, "baselines": {"models": ["svm"]}}
    problems = schema_problems(bad, SCHEMA)
    assert any("finetune.tasks.ctcf.learning_rate" in p for p in problems)
    assert any(p.startswith("baselines.models.0") for p in problems)


def _benchmark(folder: Path, pattern: str = "{split}.csv") -> None:
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / pattern.format(split=split)).write_text("sequence,label\nACGTACGT,1\n")


def test_gue_folder_becomes_one_table_task_per_benchmark(tmp_path):
    root = tmp_path / "GUE"
    _benchmark(root / "EMP" / "H3")
    _benchmark(root / "tf" / "0")
    _benchmark(root / "virus" / "covid")
    (root / "EMP" / "README.txt").write_text("not a benchmark")
    tasks = gue_tasks(root)
    assert list(tasks) == ["EMP_H3", "tf_0", "virus_covid"]
    assert tasks["EMP_H3"] == {"type": "table", "files": [
        {"path": str(root / "EMP" / "H3" / f"{split}.csv"), "split": split} for split in ("train", "dev", "test")]}
    assert list(gue_tasks(root, include=["tf/0"])) == ["tf_0"]
    with pytest.raises(ValueError, match="not benchmark folders under .*: EMP"):
        gue_tasks(root, include=["EMP"])
    with pytest.raises(ValueError, match="not a directory"):
        gue_tasks(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no sub-folder"):
        gue_tasks(tmp_path / "empty")


def test_dnabert2_sample_file_names_and_the_folder_itself(tmp_path):
    _benchmark(tmp_path / "sample", "DNABERT2_sample_data_{split}.csv")
    assert list(gue_tasks(tmp_path / "sample")) == ["sample"]
    assert task_name("prom/prom_300_all") == "prom_prom_300_all"


def test_add_gue_tasks_extends_tasks_and_refuses_clashes(tmp_path):
    _benchmark(tmp_path / "GUE" / "EMP" / "H3")
    config = {"tasks": {"ctcf": {"type": "peaks"}}, "finetune": {"gue": {"folder": str(tmp_path / "GUE")}}}
    assert add_gue_tasks(config) == ["EMP_H3"]
    assert set(config["tasks"]) == {"ctcf", "EMP_H3"}
    with pytest.raises(ConfigError, match="already configured"):
        add_gue_tasks(config)
    assert add_gue_tasks({"finetune": {"gue": {"folder": None}}}) == []
    with pytest.raises(ConfigError, match="finetune.gue.folder: not a directory"):
        add_gue_tasks({"finetune": {"gue": {"folder": str(tmp_path / "nope")}}})
