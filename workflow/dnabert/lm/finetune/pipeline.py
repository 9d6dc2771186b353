"""One fine-tuning run end to end (:func:`finetune`), its test evaluation, ``metrics.json`` and outputs.

Steps: :func:`~dnabert.lm.finetune.run.setup_device`, :func:`~dnabert.lm.finetune.data.load_data`,
:func:`~dnabert.lm.finetune.run.build_training`, resume from a checkpoint if there is one,
:func:`~dnabert.lm.finetune.loop.train`, :func:`~dnabert.lm.finetune.loop.restore_best`,
:func:`export_model` (LoRA: save the adapter, merge it), :func:`evaluate_test`, :func:`summarise`,
:func:`write_outputs`; then the run's checkpoints are removed.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from dnabert.io import PathLike, write_json
from dnabert.lm.checkpointing import remove_checkpoints, sweep_temporaries
from dnabert.lm.evaluation import SPLIT_NAMES, evaluate, write_predictions
from dnabert.lm.finetune.checkpoints import Checkpointer, TrainState, fingerprint
from dnabert.lm.finetune.data import load_data
from dnabert.lm.finetune.loop import HISTORY_FIELDS, restore_best, train
from dnabert.lm.finetune.model import export_lora, is_lora, trainable_parameters
from dnabert.lm.finetune.run import Training, build_training, format_value, jsonable, setup_device
from dnabert.lm.finetune.settings import FinetuneSettings, RunOutputs
from dnabert.lm.models import count_parameters, save_model
from dnabert.lm.tensorboard_log import ScalarLog
from dnabert.lm.training import kernels_of, write_history
from dnabert.metrics import SCALAR_METRICS

log = logging.getLogger("dnabert.lm.finetune")


def finetune(
    settings: FinetuneSettings,
    data: Mapping[str, PathLike],
    outputs: RunOutputs,
    *,
    k: int,
    seed: int,
    model_dir: PathLike | None = None,
    task: str = "task",
    device: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
    keep_checkpoints: bool = False,
) -> dict[str, Any]:
    """Fine-tune (or resume), select the best dev weights, evaluate them on test once, write all outputs.

    ``data`` maps ``train``, ``dev`` and ``test`` to dataset TSVs. Returns the run's metrics.
    Raises :class:`~dnabert.lm.checkpointing.Preempted` after a checkpoint written on SIGTERM/SIGUSR1.
    The checkpoints are removed at the end unless ``keep_checkpoints`` (then the final state is
    checkpointed, and a rerun only re-evaluates and rewrites the outputs).
    """
    where = setup_device(device, threads, settings.precision)
    progress = sys.stderr.isatty() if progress is None else progress
    sweep_temporaries(outputs.files())
    task_data = load_data(data, k, settings.overflow, settings.both_strands, settings.strand_training)
    run = build_training(settings, task_data, where, task=task, k=k, seed=seed, model_dir=model_dir)
    saver = Checkpointer.for_run(outputs.checkpoints, fingerprint(settings, data, model_dir, seed=seed, k=k), settings)
    state = saver.resume(run) or TrainState()
    board = ScalarLog(outputs.tensorboard)
    try:
        board.open(state.resumed_from)
        train(run, state, saver, board, progress)
        if keep_checkpoints:
            saver.save(run, state)
        restore_best(run, state)
        trainable = trainable_parameters(run.model)
        export_model(run, outputs)
        test, test_probs = evaluate_test(run)
        board.scalars({f"test/{m}": test[m] for m in ("loss", *SCALAR_METRICS)}, state.step)
    finally:
        board.close()
    result = summarise(run, state, test, model_dir, trainable)
    write_outputs(run, state, outputs, test_probs, result)
    if outputs.checkpoints is not None and not keep_checkpoints:
        remove_checkpoints(outputs.checkpoints)
    return result


def export_model(run: Training, outputs: RunOutputs) -> None:
    """With LoRA: write the adapter and merge it, so the model is a plain classifier; else drop a stale adapter."""
    if is_lora(run.model):
        run.model = export_lora(run.model, outputs.adapter)
    elif outputs.adapter is not None and outputs.adapter.is_dir():
        log.info("removing %s, the adapter of an earlier LoRA run", outputs.adapter)
        shutil.rmtree(outputs.adapter)


def evaluate_test(run: Training) -> tuple[dict[str, Any], np.ndarray]:
    """The selected model's test metrics and per-sequence test probabilities (test is scored once, here)."""
    probs = run.predict("test")
    test = evaluate(run.data.splits["test"].labels, probs)
    log.info("%s seed %d: test %s", run.task, run.seed,
             ", ".join(f"{m} {format_value(test[m])}" for m in SCALAR_METRICS))  # fmt: skip
    return test, probs


def summarise(
    run: Training, state: TrainState, test: dict[str, Any], model_dir: PathLike | None, trainable: int
) -> dict[str, Any]:
    """The run's ``metrics.json``: test metrics, the selected checkpoint, training facts, data sizes, settings.

    It holds no timings (those are in ``history.csv``, the log and TensorBoard), so a rerun or a
    resumed run writes the same bytes.
    """
    settings, splits, n_classes = run.settings, run.data.splits, run.data.n_classes
    return {
        "task": run.task,
        "seed": run.seed,
        "init": settings.init,
        "encoder": None if settings.init == "scratch" else str(model_dir),
        "k": run.k,
        "n_classes": n_classes,
        "headline": settings.headline,
        "select_on": settings.select_on,
        "test": test,
        "best": state.best,
        "training": {
            "steps": state.step,
            "planned_steps": run.total,
            "steps_per_epoch": run.per_epoch,
            "stopped_early": state.stopped_early,
            "device": str(run.device),
            "kernels": kernels_of(run.device),
            "precision": run.precision,
            "parameters": count_parameters(run.model)["total"],
            "trainable_parameters": trainable,
            "lora": settings.lora is not None,
        },
        "data": {name: {"sequences": len(splits[name]), "rows": len(run.data.encoded[name]),
                        "class_counts": np.bincount(splits[name].labels, minlength=n_classes).tolist()}
                 for name in SPLIT_NAMES},  # fmt: skip
        "settings": jsonable(asdict(settings)),
    }


def write_outputs(
    run: Training, state: TrainState, outputs: RunOutputs, test_probs: np.ndarray, result: dict[str, Any]
) -> None:
    """The selected model (moved to CPU), test predictions, training history and metrics."""
    save_model(run.model.cpu(), outputs.model, run.k)
    write_predictions(outputs.predictions, run.data.splits["test"], test_probs)
    write_history(outputs.history, state.history, HISTORY_FIELDS)
    write_json(outputs.metrics, result)
