"""The optimisation loop: AdamW steps over the planned micro-batches, interval logs, evaluations, checkpoints.

:func:`train_loop` sets up (optimizer, schedule, batch plan, resume, DDP/compile), then repeats
:func:`_step` (one optimizer step), :func:`_record` (log and evaluation rows) and, when due,
:func:`_checkpoint`. What changes from step to step lives in :class:`LoopState`; the rest in :class:`Loop`.
The micro-batches of the coming steps are built and masked ``prefetch`` steps ahead in a background
thread (:class:`dnabert.lm.loading.Prefetcher`; pinned on CUDA), exactly as the step would build them.
fp16 scales the loss (:class:`torch.amp.GradScaler`); bf16 and fp32 pass through a disabled scaler.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from dnabert.io import InputError
from dnabert.lm.checkpointing import Preempted, StopSignal
from dnabert.lm.loading import Prefetcher
from dnabert.lm.masking import seeded_generator
from dnabert.lm.pretrain.batches import BatchPlan, MicroBatch, TrainingData, make_micro_batch
from dnabert.lm.pretrain.checkpoints import (
    TrainState,
    fingerprint,
    gathered_rng_states,
    read_checkpoint,
    shared_resumable,
    write_checkpoint,
)
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain.history import HISTORY_FIELDS, board_values, history_row
from dnabert.lm.pretrain.objective import MaskedLMObjective, evaluate, evaluation_row
from dnabert.lm.pretrain.settings import Outputs, PretrainSettings
from dnabert.lm.tensorboard_log import ScalarLog
from dnabert.lm.training import Precision, param_groups, write_history

log = logging.getLogger("dnabert.lm.pretrain")

Autocast = Callable[[], contextlib.AbstractContextManager]


@dataclass
class Window:
    """Accumulators of one logging interval (loss and correct stay on the device: no per-step sync)."""

    loss: torch.Tensor
    correct: torch.Tensor
    masked: float = 0.0
    tokens: float = 0.0
    padded: float = 0.0
    seconds: float = 0.0

    @classmethod
    def start(cls, device: torch.device) -> Window:
        zero = lambda: torch.zeros((), dtype=torch.float64, device=device)  # noqa: E731
        return cls(zero(), zero())


@dataclass(frozen=True)
class Loop:
    """What the steps of one loop share and do not replace."""

    settings: PretrainSettings
    data: TrainingData
    plan: BatchPlan
    objective: MaskedLMObjective
    engine: nn.Module  # the objective, wrapped in DDP and/or compiled
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    outputs: Outputs
    fp: str
    ctx: Dist
    precision: Precision
    scaler: torch.amp.GradScaler  # fp16 loss scaling (disabled for bf16 and fp32)
    steps: int
    bar: tqdm
    board: ScalarLog  # TensorBoard scalars of the log rows (rank 0)


@dataclass
class LoopState:
    """What the loop moves forward: the checkpointed progress, the interval window, the last checkpoint."""

    progress: TrainState
    window: Window
    last_checkpoint_time: float  # time.monotonic() of the last checkpoint (or of the start)
    saved_step: int  # step of the newest checkpoint written or resumed from; -1: none


@dataclass(frozen=True)
class StepResult:
    """What one optimizer step decided: its mask rate and learning rate, and the flags all processes agree on."""

    rate: float
    lr: float
    stop: bool  # a process received SIGTERM/SIGUSR1
    timed_checkpoint: bool  # checkpoint_every_minutes elapsed (on rank 0)


def train_loop(
    settings: PretrainSettings,
    data: TrainingData,
    objective: MaskedLMObjective,
    outputs: Outputs,
    ctx: Dist,
    precision: Precision,
    steps: int,
    progress: bool,
    on_step: Callable[[int], None] | None,
    board: ScalarLog | None = None,
) -> TrainState:
    """The optimisation loop with checkpoint/resume; returns the final progress.

    ``board`` (opened here, fresh or at the resumed step) receives every log row's numbers.
    """
    loop, live = _start(settings, data, objective, outputs, ctx, precision, steps, progress, board or ScalarLog(None))
    feed = Prefetcher(_batch_jobs(loop, live.progress), partial(_build_step, loop), settings.prefetch, ctx.device)
    with feed, StopSignal() as stop:
        while live.progress.step < steps:
            result = _step(loop, live, stop, feed)
            _record(loop, live, result)
            if result.stop:
                _checkpoint(loop, live)
                loop.bar.close()
                raise Preempted(live.progress.step, stop.received or signal.SIGTERM)
            if _checkpoint_due(loop, live, result):
                _checkpoint(loop, live)
            if on_step is not None:
                on_step(live.progress.step)
    loop.bar.close()
    state = live.progress
    state.epochs = round(loop.plan.epochs_done(state.consumed), 4)
    if live.saved_step != state.step:
        _checkpoint(loop, live)
    return state


# --------------------------------------------------------------------------- setup


def _start(
    settings: PretrainSettings,
    data: TrainingData,
    objective: MaskedLMObjective,
    outputs: Outputs,
    ctx: Dist,
    precision: Precision,
    steps: int,
    progress: bool,
    board: ScalarLog,
) -> tuple[Loop, LoopState]:
    """Optimizer, schedule, batch plan and fingerprint; the resumed (or fresh) progress; the training engine."""
    optimizer, scheduler = _optimizer(settings, objective.model, ctx, steps)
    plan = BatchPlan(data.train_ids, data.store.lengths[data.train_ids], settings.batch_tokens, settings.seed)
    fp = fingerprint(settings, data.store, data.dev_chromosomes, ctx.world)
    # Dropout streams differ per process but are reproducible.
    torch.manual_seed(settings.seed * 1_000_003 + ctx.rank)
    scaler = precision.grad_scaler()
    state, resumed = _resume(settings, objective.model, optimizer, scheduler, scaler, plan, outputs, fp, ctx, steps)
    board.open(state.step if resumed else None)
    engine = _engine(objective, settings, ctx)
    live = LoopState(state, Window.start(ctx.device), time.monotonic(), state.step if resumed else -1)
    bar = tqdm(total=steps, initial=state.step, desc="pretrain", unit="step", disable=not (progress and ctx.main))
    loop = Loop(settings, data, plan, objective, engine, optimizer, scheduler, outputs, fp, ctx, precision, scaler,
                steps, bar, board)  # fmt: skip
    return loop, live


def _optimizer(
    settings: PretrainSettings, model: nn.Module, ctx: Dist, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW (fused on CUDA) with the linear warm-up and decay schedule over ``steps``."""
    opt = settings.optimizer
    optimizer = torch.optim.AdamW(
        param_groups(model, opt.weight_decay), lr=opt.lr, betas=opt.betas, eps=opt.eps,
        **({"fused": True} if ctx.device.type == "cuda" else {"foreach": True}),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: opt.lr_factor(s, steps))
    return optimizer, scheduler


def _resume(
    settings: PretrainSettings,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    plan: BatchPlan,
    outputs: Outputs,
    fp: str,
    ctx: Dist,
    steps: int,
) -> tuple[TrainState, bool]:
    """The progress of the newest matching checkpoint, restored into model, optimizer and plan; else a fresh one."""
    state = TrainState()
    resume = shared_resumable(outputs.checkpoints, fp, ctx)
    if resume is not None:
        state = read_checkpoint(resume, model, optimizer, scheduler, ctx, settings.seed, scaler)
        plan.epoch_starts = list(state.epoch_starts)
        log.info("resuming from %s (step %d of %d)", resume.path, state.step, steps)
    if state.step > steps:
        raise InputError(resume.path, f"checkpoint is at step {state.step}, beyond the configured {steps} steps")
    return state, resume is not None


def _engine(objective: MaskedLMObjective, settings: PretrainSettings, ctx: Dist) -> nn.Module:
    """The objective as trained: in DistributedDataParallel over several processes, compiled if asked; train mode."""
    engine: nn.Module = objective
    if ctx.active:
        engine = nn.parallel.DistributedDataParallel(
            objective, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None, broadcast_buffers=False
        )
    if settings.compile:
        engine = torch.compile(engine, dynamic=True)
    engine.train()
    return engine


# --------------------------------------------------------------------------- one step


def _step(loop: Loop, live: LoopState, stop: StopSignal, feed: Iterator[list[MicroBatch]]) -> StepResult:
    """One optimizer step over this process's micro-batches; advances the progress and the interval window."""
    started = time.perf_counter()
    settings, ctx, state, window = loop.settings, loop.ctx, live.progress, live.window
    rate = settings.masking.rate_at(state.step, loop.steps)
    batches = [batch.to(ctx.device) for batch in next(feed)]
    due = ctx.main and (time.monotonic() - live.last_checkpoint_time) >= settings.checkpoint_every_minutes * 60
    total_masked, stop_flag, time_flag, step_tokens, step_padded = ctx.sum(
        [sum(b.masked for b in batches), float(stop.received is not None), float(due),
         sum(b.real_tokens for b in batches), sum(b.padded_tokens for b in batches)]
    )
    _backward(loop, batches, ctx.world / max(total_masked, 1.0), window)
    lr = _apply_gradients(loop)
    state.step += 1
    state.consumed += ctx.world * settings.gradient_accumulation
    state.tokens += int(step_tokens)
    state.padded_tokens += int(step_padded)
    window.masked += total_masked
    window.tokens += step_tokens
    window.padded += step_padded
    if ctx.device.type == "cuda" and _log_due(loop, state.step, bool(stop_flag)):
        torch.cuda.synchronize(ctx.device)  # the interval's queued GPU work counts in its time (once per log row)
    seconds = time.perf_counter() - started
    window.seconds += seconds
    state.elapsed += seconds
    loop.bar.update(1)
    return StepResult(rate, lr, bool(stop_flag), bool(time_flag))


def _batch_jobs(loop: Loop, start: TrainState) -> Iterator[tuple[int, float]]:
    """For each remaining step: this process's first micro-batch position and the step's mask rate."""
    settings, ctx = loop.settings, loop.ctx
    consumed = start.consumed
    for step in range(start.step, loop.steps):
        yield consumed + ctx.rank * settings.gradient_accumulation, settings.masking.rate_at(step, loop.steps)
        consumed += ctx.world * settings.gradient_accumulation


def _build_step(loop: Loop, job: tuple[int, float]) -> list[MicroBatch]:
    """Micro-batches ``first + [0, gradient_accumulation)`` of the run, masked at ``rate`` (on the CPU)."""
    first, rate = job
    settings = loop.settings
    return [
        make_micro_batch(loop.data.store, loop.plan.at(position), settings.k, rate,
                         seeded_generator(settings.seed, position), packed=settings.packing)
        for position in range(first, first + settings.gradient_accumulation)
    ]  # fmt: skip


def _backward(loop: Loop, batches: list[MicroBatch], scale: float, window: Window) -> None:
    """Forward and backward passes (DDP gradient sync on the last micro-batch only), summed into ``window``."""
    for i, batch in enumerate(batches):
        defer_sync = loop.ctx.active and i < len(batches) - 1
        with loop.engine.no_sync() if defer_sync else contextlib.nullcontext():
            with loop.precision.autocast():
                loss, correct = loop.engine(batch.input_ids, batch.attention_mask, batch.positions, batch.targets,
                                            batch.layout)  # fmt: skip
            loop.scaler.scale(loss * scale).backward()
        window.loss += loss.detach().double()
        window.correct += correct.detach().double()


def _apply_gradients(loop: Loop) -> float:
    """Unscale (fp16), clip, step the optimizer and the schedule, clear the gradients; return the learning rate.

    fp16: the scaler skips a step whose gradients overflowed (and lowers the scale).
    """
    max_grad_norm = loop.settings.optimizer.max_grad_norm
    if max_grad_norm > 0:
        loop.scaler.unscale_(loop.optimizer)
        torch.nn.utils.clip_grad_norm_(loop.objective.model.parameters(), max_grad_norm)
    lr = loop.optimizer.param_groups[0]["lr"]
    loop.scaler.step(loop.optimizer)
    loop.scaler.update()
    loop.scheduler.step()
    loop.optimizer.zero_grad(set_to_none=True)
    return lr


# --------------------------------------------------------------------------- logs, evaluation, checkpoints


def _record(loop: Loop, live: LoopState, result: StepResult) -> None:
    """Append the step's log row: interval means when due (and on a stop), held-out metrics when due."""
    state, settings = live.progress, loop.settings
    row: dict[str, Any] = {}
    if _log_due(loop, state.step, result.stop):
        row = _interval_row(loop, live, result)
    if state.step % settings.eval_every_steps == 0 and state.step < loop.steps:
        row.update(_evaluation_row(loop, state.step))
    if row:
        state.history.append(history_row(state, row))
        loop.board.scalars(board_values(row), state.step)


def _log_due(loop: Loop, step: int, stop: bool) -> bool:
    """Whether (1-based) ``step`` ends a logging interval: every ``log_every_steps``, the last step, a stop."""
    return step % loop.settings.log_every_steps == 0 or step == loop.steps or stop


def _interval_row(loop: Loop, live: LoopState, result: StepResult) -> dict[str, Any]:
    """Training loss, accuracy, throughput and padding since the last log row (over all processes); a new window."""
    ctx, window = loop.ctx, live.window
    loss_sum, correct_sum, seconds = ctx.sum([float(window.loss), float(window.correct), window.seconds])
    masked, tokens, padded = window.masked, window.tokens, window.padded
    seconds = max(seconds / ctx.world, 1e-9)
    row = {
        "train_loss": round(loss_sum / max(masked, 1), 5),
        "train_accuracy": round(correct_sum / max(masked, 1), 5),
        "tokens_per_s": round(tokens / seconds, 1),
        "padding_fraction": round(1 - tokens / max(padded, 1), 5),
        "lr": result.lr,
        "mask_rate": result.rate,
    }
    live.window = Window.start(ctx.device)
    log.info("step %d/%d: loss %.4f, accuracy %.3f, lr %.3g, mask %.2f, %.0f tokens/s, padding %.1f%%",
             live.progress.step, loop.steps, row["train_loss"], row["train_accuracy"], result.lr, result.rate,
             row["tokens_per_s"], 100 * row["padding_fraction"])
    loop.bar.set_postfix(loss=f"{row['train_loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
    return row


def _evaluation_row(loop: Loop, step: int) -> dict[str, Any]:
    """Held-out loss and accuracy now."""
    result = evaluate(loop.objective, loop.data.store, loop.data.held_out, loop.settings, loop.ctx,
                      loop.precision.autocast)  # fmt: skip
    log.info("step %d: held-out loss %.4f, accuracy %.3f (at [MASK] inputs: loss %.4f, accuracy %.3f)", step,
             result["loss"], result["accuracy"], result["by_input"]["mask"]["loss"],
             result["by_input"]["mask"]["accuracy"])  # fmt: skip
    return evaluation_row(result)


def _checkpoint_due(loop: Loop, live: LoopState, result: StepResult) -> bool:
    """Every ``checkpoint_every_steps``, when the minutes are up, and at the last step."""
    step = live.progress.step
    return step % loop.settings.checkpoint_every_steps == 0 or result.timed_checkpoint or step == loop.steps


def _checkpoint(loop: Loop, live: LoopState) -> None:
    """Write a checkpoint of the current step (rank 0, with every rank's RNG states) and the log so far."""
    state = live.progress
    state.epoch_starts = list(loop.plan.epoch_starts)
    states = gathered_rng_states(loop.ctx)
    if loop.ctx.main:
        write_checkpoint(loop.outputs.checkpoints, loop.objective.model, loop.optimizer, loop.scheduler, state, states,
                         loop.fp, loop.settings.keep_checkpoints, loop.scaler)  # fmt: skip
        write_history(loop.outputs.history, state.history, HISTORY_FIELDS)
    loop.ctx.barrier()
    live.last_checkpoint_time = time.monotonic()
    live.saved_step = state.step
