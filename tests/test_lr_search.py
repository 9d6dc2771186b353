"""Learning rate chosen on dev from a grid (first seed), reused by later seeds; collapsed runs flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_finetune import TINY, write_task

from dnabert.config.finetune import lr_grid, scratch_settings
from dnabert.lm.evaluation import summarise_runs
from dnabert.lm.finetune import RunOutputs
from dnabert.lm.lr_search import choose, finetune_seed
from dnabert.metrics import collapsed

SETTINGS = {"init": "scratch", "scratch_model": TINY, "epochs": 1, "batch_size": 16, "eval_every_steps": 5,
            "patience": None, "select_on": "loss"}  # fmt: skip


def test_collapsed_reads_the_predicted_columns():
    assert collapsed([[5, 0], [7, 0]])  # everything predicted class 0
    assert not collapsed([[5, 1], [7, 0]])
    assert collapsed([[0, 0, 3], [0, 0, 4], [0, 0, 1]])
    assert not collapsed(None) and not collapsed([[0, 0], [0, 0]])


def test_choice_skips_runs_collapsed_on_dev_and_uses_the_selection_metric():
    scores = {1e-4: {"loss": 0.40, "mcc": 0.0, "confusion_matrix": [[9, 0], [9, 0]]},
              1e-3: {"loss": 0.55, "mcc": 0.5, "confusion_matrix": [[7, 2], [2, 7]]},
              1e-2: {"loss": 0.60, "mcc": 0.6, "confusion_matrix": [[8, 1], [1, 8]]}}  # fmt: skip
    assert choose(scores, "loss") == 1e-3  # 1e-4 has the lowest loss but predicts one class
    assert choose(scores, "mcc") == 1e-2
    every = {lr: {**dev, "confusion_matrix": [[9, 0], [9, 0]]} for lr, dev in scores.items()}
    assert choose(every, "loss") == 1e-4  # all collapsed: fall back to the metric alone


def test_lr_grid_precedence():
    config = {"finetune": {"lr": 1e-3, "lr_grid": [1e-4, 1e-3], "tasks": {"a": {"lr": 5e-4}, "b": {"lr_grid": [2e-3]}}}}
    assert lr_grid(config, "x") == [1e-4, 1e-3]
    assert lr_grid(config, "a") == [5e-4]  # a task's own lr replaces the grid
    assert lr_grid(config, "b") == [2e-3]
    assert lr_grid({"finetune": {"lr": 3e-4}}, "x") == [3e-4]
    assert scratch_settings({"finetune": {"init": "pretrained"}, "pretrain": {"model": TINY}}, "x")["init"] == "scratch"


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """Seed 1 searches a two-value grid; seed 2 reuses its choice."""
    root = tmp_path_factory.mktemp("search")
    data = write_task(root / "data", sizes=(64, 32, 32), length=30)
    grid = [1e-5, 3e-3]
    runs = {}
    for seed in (1, 2):
        out = RunOutputs.under(root / f"seed{seed}")
        choice = root / "seed1" / "lr.json" if seed == 2 else None
        lr = finetune_seed(SETTINGS, grid, data, out, root / f"seed{seed}" / "lr.json", seed=seed, first_seed=1,
                           choice_file=choice, k=3, task="t", device="cpu", threads=1, progress=False)  # fmt: skip
        runs[seed] = (lr, out)
    return root, grid, runs


def test_first_seed_searches_on_dev_and_later_seeds_reuse_the_choice(searched):
    root, grid, runs = searched
    search = json.loads((root / "seed1" / "lr.json").read_text())
    assert search["grid"] == grid and set(search["dev"]) == {f"{lr:g}" for lr in grid}
    losses = {float(lr): dev["loss"] for lr, dev in search["dev"].items()}
    usable = [lr for lr in grid if f"{lr:g}" not in search["collapsed_on_dev"]] or grid
    assert search["chosen"] == min(usable, key=losses.get)
    assert all("test" not in dev for dev in search["dev"].values())  # the choice never sees test
    assert runs[1][0] == runs[2][0] == search["chosen"]
    assert json.loads((root / "seed2" / "lr.json").read_text())["chosen"] == search["chosen"]
    for _, out in runs.values():
        metrics = json.loads(Path(out.metrics).read_text())
        assert metrics["settings"]["lr"] == search["chosen"]
        assert Path(out.model, "config.json").is_file() and Path(out.predictions).is_file()
    assert not (root / "seed1" / ".lr_search").exists()  # losing runs removed


def test_later_seed_without_the_choice_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="lr.json"):
        finetune_seed(SETTINGS, [1e-3, 1e-2], {}, RunOutputs.under(tmp_path), tmp_path / "lr.json", seed=2,
                      first_seed=1, k=3)  # fmt: skip


def test_summary_lists_collapsed_runs():
    runs = {"1": {"mcc": 0.0, "confusion_matrix": [[4, 0], [4, 0]]},
            "2": {"mcc": 0.5, "confusion_matrix": [[3, 1], [1, 3]]}}  # fmt: skip
    summary = summarise_runs(runs, task="t", model="bert_scratch", headline="mcc")
    assert summary["collapsed"] == ["1"]
    assert summary["mean"]["mcc"] == pytest.approx(0.25)  # kept in the mean, flagged
