"""The training loop: optimizer steps over the seeded batches, dev evaluations and selection, checkpoints, signals.

:func:`train` runs :func:`train_step` on each batch of :func:`~dnabert.lm.finetune.data.training_batches`
(the batch loop), then :func:`after_step`: a dev evaluation every ``eval_every`` steps
(:func:`evaluate_dev`; the best value of ``select_on`` is kept, training stops after
``patience`` evaluations without improvement), a checkpoint when due, and on SIGTERM/SIGUSR1
a checkpoint and :class:`~dnabert.lm.checkpointing.Preempted`. :func:`restore_best` then
loads the selected weights. Everything the loop moves forward is in
:class:`~dnabert.lm.finetune.checkpoints.TrainState`, which a checkpoint carries.
"""

from __future__ import annotations

import logging
import time

import torch
from tqdm.auto import tqdm

from dnabert.lm.checkpointing import Preempted, StopSignal
from dnabert.lm.evaluation import evaluate
from dnabert.lm.finetune.checkpoints import Checkpointer, TrainState
from dnabert.lm.finetune.data import Batch, prefetched_batches
from dnabert.lm.finetune.run import Training, format_value
from dnabert.lm.tensorboard_log import ScalarLog
from dnabert.metrics import SCALAR_METRICS, is_better

log = logging.getLogger("dnabert.lm.finetune")

HISTORY_FIELDS = ("step", "epoch", "lr", "train_loss", "dev_loss", *(f"dev_{m}" for m in SCALAR_METRICS),
                  "best", "elapsed_s")  # fmt: skip


def train_step(run: Training, state: TrainState, batch: Batch) -> tuple[float, float]:
    """One optimiser step on one batch of training rows; its loss and learning rate."""
    tick = time.perf_counter()
    lr = run.optimizer.param_groups[0]["lr"]
    scaler = run.scaler or torch.amp.GradScaler(run.device.type, enabled=False)
    with run.autocast():
        inputs = {"input_ids": batch.input_ids.to(run.device, non_blocking=True),
                  "attention_mask": batch.attention_mask.to(run.device, non_blocking=True)}  # fmt: skip
        logits = run.model(**inputs).logits
    loss = torch.nn.functional.cross_entropy(logits.float(), batch.labels.to(run.device, non_blocking=True))
    scaler.scale(loss).backward()
    if run.settings.max_grad_norm > 0:
        scaler.unscale_(run.optimizer)  # fp16: clip the true gradients
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.settings.max_grad_norm)
    scaler.step(run.optimizer)  # fp16: skipped when the scaled gradients overflowed
    scaler.update()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    value = float(loss.detach())
    state.step += 1
    state.window_loss += value * batch.size
    state.window_rows += batch.size
    state.trained_rows += batch.size
    state.train_seconds += time.perf_counter() - tick
    return value, lr


def evaluate_dev(run: Training, state: TrainState, board: ScalarLog) -> float | None:
    """Score dev, keep the weights if they are the best so far, log a history row; return the selection value."""
    select_on = run.settings.select_on
    dev = evaluate(run.data.splits["dev"].labels, run.predict("dev"))
    value = dev[select_on]
    improved = is_better(select_on, value, state.best_value)
    if improved:
        state.best_value, state.stale = value, 0
        state.best = {"step": state.step, "epoch": run.epoch_of(state.step), "dev": dev}
        state.best_state = run.trainable_state()
    else:
        state.stale += 1
    row = {"step": state.step, "epoch": run.epoch_of(state.step), "lr": run.scheduler.get_last_lr()[0],
           "train_loss": state.window_loss / max(state.window_rows, 1), "dev_loss": dev["loss"],
           **{f"dev_{m}": dev[m] for m in SCALAR_METRICS}, "best": int(improved),
           "elapsed_s": round(state.seconds(), 2)}  # fmt: skip
    state.history.append(row)
    state.window_loss, state.window_rows = 0.0, 0
    board.scalars({"train/interval_loss": row["train_loss"], **{f"dev/{m}": dev[m] for m in ("loss", *SCALAR_METRICS)},
                   "speed/train_rows_per_s": state.trained_rows / max(state.train_seconds, 1e-9)},
                  state.step)  # fmt: skip
    log.info("step %d/%d (epoch %.2f): train loss %.4f, dev loss %.4f, dev MCC %.4f, dev AUROC %s%s",
             state.step, run.total, row["epoch"], row["train_loss"], dev["loss"], dev["mcc"],
             format_value(dev["auroc"]), f" (best {select_on})" if improved else "")  # fmt: skip
    return value


def after_step(run: Training, state: TrainState, saver: Checkpointer, board: ScalarLog, stop: StopSignal) -> None:
    """A dev evaluation and the patience check when due, a checkpoint when due; on a signal, stop."""
    evaluated = state.step % run.eval_every == 0 or state.step == run.total
    if evaluated:
        evaluate_dev(run, state, board)
        patience = run.settings.patience
        if patience is not None and state.stale >= patience:
            log.info("early stop: %d evaluations without a better dev %s", state.stale, run.settings.select_on)
            state.stopped_early = True
    if stop.received is not None or saver.due(state.step, evaluated):
        saver.save(run, state)
    if stop.received is not None:
        raise Preempted(state.step, stop.received)


def train(run: Training, state: TrainState, saver: Checkpointer, board: ScalarLog, progress: bool) -> TrainState:
    """Train from ``state`` (fresh or resumed) until the planned steps are done or patience runs out."""
    bar = tqdm(total=run.total, initial=state.step, desc=f"fine-tune {run.task} seed {run.seed}", unit="step",
               disable=not progress, mininterval=5)  # fmt: skip
    run.model.train()
    state.started = time.perf_counter()
    try:
        batches = prefetched_batches(run.data, run.settings.batch_size, run.seed, state.step, run.device)
        with batches, StopSignal() as stop:
            while not state.finished(run):
                loss, lr = train_step(run, state, next(batches))
                board.scalars({"train/loss": loss, "optimizer/lr": lr}, state.step)
                bar.update(1)
                after_step(run, state, saver, board, stop)
    finally:
        bar.close()
    log.info("trained %d rows in %.1f s (%.1f rows/s)", state.trained_rows, state.train_seconds,
             state.trained_rows / max(state.train_seconds, 1e-9))  # fmt: skip
    return state


def restore_best(run: Training, state: TrainState) -> None:
    """Load the best dev weights into the model; if dev was never defined, keep the last ones."""
    if state.best_state is None:  # every dev value undefined: keep the last model
        log.warning("dev %s was never defined; the last checkpoint is evaluated", run.settings.select_on)
        state.best = {"step": state.step, "epoch": run.epoch_of(state.step),
                      "dev": state.history[-1] if state.history else {}}  # fmt: skip
        return
    _, unexpected = run.model.load_state_dict(state.best_state, strict=False)
    if unexpected:
        raise RuntimeError(f"best weights do not fit the model: {unexpected[:5]}")
