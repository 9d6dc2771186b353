"""Learning rate chosen on dev from a small grid, and runs that collapse to one predicted class.

A model's learning rate is part of its recipe, so a fair benchmark gives every
model (pretrained, from scratch) its own choice from the same grid, made on the
dev split only. :func:`search_learning_rate` trains one run per grid value (the
task's first seed), keeps the run with the best dev score by the run's own
selection metric (``select_on``) among runs that do not predict one class for
every dev sequence, and moves it into place as that seed's run; the other seeds
then train with the chosen value. ``lr_search.json`` records every value's dev
scores (never test scores) and the choice.

A *collapsed* run predicts the same class for every sequence of a split: its MCC
is 0 by construction, and averaging it in with working runs silently understates
what the model can do. :func:`collapsed` detects it from a confusion matrix.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dnabert.io import PathLike, read_json, write_json
from dnabert.lm.finetune import FinetuneSettings, RunOutputs, finetune
from dnabert.metrics import collapsed, is_better

log = logging.getLogger(__name__)

SEARCH_FILE = "lr_search.json"


def choose(scores: Mapping[float, Mapping[str, Any]], metric: str) -> float:
    """The grid value with the best dev ``metric``, preferring runs that did not collapse on dev."""
    usable = [lr for lr, dev in scores.items() if not collapsed(dev.get("confusion_matrix"))] or list(scores)
    best: float | None = None
    for lr in usable:  # grid order breaks ties
        if best is None or is_better(metric, scores[lr].get(metric), scores[best].get(metric)):
            best = lr
    return best if best is not None else usable[0]


def _move_run(source: RunOutputs, target: RunOutputs) -> None:
    """Rename one finished run's files (metrics, predictions, history, model dir) into ``target``."""
    for name in ("metrics", "predictions", "history", "model"):
        path = Path(getattr(target, name))
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(getattr(source, name), path)


def search_learning_rate(
    grid: Sequence[float],
    train_one: Callable[[float, RunOutputs], Mapping[str, Any]],
    outputs: RunOutputs,
    search_file: PathLike,
    *,
    metric: str,
    work_dir: PathLike,
) -> float:
    """Train ``train_one(lr, run_outputs)`` for every grid value, keep the best on dev, return its lr.

    Each value's run goes to its own folder under ``work_dir``; ``train_one`` returns
    its metrics (with ``best.dev``). The chosen run's files are moved to ``outputs``
    and ``work_dir`` is removed. ``search_file`` gets every value's dev scores and the choice.
    """
    work_dir = Path(work_dir)
    scores: dict[float, dict[str, Any]] = {}
    try:
        for lr in grid:
            result = train_one(float(lr), RunOutputs.under(work_dir / f"lr{lr:g}"))
            scores[float(lr)] = dict(result["best"].get("dev") or {})
            log.info("learning rate %g: dev %s %s", lr, metric, scores[float(lr)].get(metric))
        chosen = choose(scores, metric)
        _move_run(RunOutputs.under(work_dir / f"lr{chosen:g}"), outputs)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    log.info("learning rate %g chosen on dev %s among %s", chosen, metric, ", ".join(f"{lr:g}" for lr in grid))
    write_json(search_file, {
        "grid": [float(lr) for lr in grid],
        "select_on": metric,
        "chosen": chosen,
        "dev": {f"{lr:g}": {key: dev.get(key) for key in ("loss", "mcc", "auroc", "accuracy", "confusion_matrix")}
                for lr, dev in scores.items()},
        "collapsed_on_dev": [f"{lr:g}" for lr, dev in scores.items() if collapsed(dev.get("confusion_matrix"))],
    })  # fmt: skip
    return chosen


def finetune_seed(
    settings: Mapping[str, Any],
    grid: Sequence[float],
    data: Mapping[str, PathLike],
    outputs: RunOutputs,
    lr_file: PathLike,
    *,
    seed: int,
    first_seed: int,
    choice_file: PathLike | None = None,
    **run: Any,
) -> float:
    """One seed of a model on a task, at the learning rate chosen on dev; returns that rate.

    With a grid of one value, or for a later seed (``choice_file``: the first seed's
    ``lr.json``), one run. For the first seed of a larger grid, the search. ``lr_file``
    records the rate used and where it came from. ``run`` goes to :func:`finetune`.
    """
    def train_one(lr: float, where: RunOutputs) -> Mapping[str, Any]:
        values = FinetuneSettings.from_config({**settings, "lr": lr})
        return finetune(values, data, where, seed=seed, **run)

    if len(grid) > 1 and seed == first_seed:
        metric = FinetuneSettings.from_config(dict(settings)).select_on
        return search_learning_rate(grid, train_one, outputs, lr_file, metric=metric,
                                    work_dir=Path(outputs.metrics).parent / ".lr_search")  # fmt: skip
    if len(grid) > 1:
        if choice_file is None:
            raise ValueError("a later seed of a learning-rate search needs the first seed's lr.json")
        lr, source = float(read_json(choice_file)["chosen"]), str(choice_file)
    else:
        lr, source = float(grid[0]), "finetune.lr"
    train_one(lr, outputs)
    write_json(lr_file, {"chosen": lr, "from": source})
    return lr
