"""One pretraining run end to end (:func:`train`): process setup, data, model, the loop, final evaluation, outputs."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch
from transformers import BertForMaskedLM

from dnabert.io import InputError, PathLike, write_text_atomic
from dnabert.lm import kmer
from dnabert.lm.models import count_parameters, load_pretrained, new_model, save_model
from dnabert.lm.pretrain.batches import TrainingData, load_training_data
from dnabert.lm.pretrain.checkpoints import TrainState
from dnabert.lm.pretrain.distributed import Dist, init_distributed
from dnabert.lm.pretrain.history import HISTORY_FIELDS, board_values, history_row, plot_history, train_summary
from dnabert.lm.pretrain.loop import Autocast, train_loop
from dnabert.lm.pretrain.objective import MaskedLMObjective, evaluate, evaluation_row, kmer_log_frequencies
from dnabert.lm.checkpointing import sweep_temporaries
from dnabert.lm.pretrain.settings import Outputs, PretrainSettings
from dnabert.lm.packing import check_packable
from dnabert.lm.tensorboard_log import ScalarLog
from dnabert.lm.training import kernels_of, precision_for, write_history

log = logging.getLogger("dnabert.lm.pretrain")


def train(
    settings: PretrainSettings,
    corpus: PathLike,
    outputs: Outputs,
    dev_chromosomes: Sequence[str] = (),
    *,
    device: str = "auto",
    threads: int | None = None,
    progress: bool | None = None,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Pretrain (or resume, or only evaluate a loaded model) and write all outputs; return the metrics.

    ``on_step(step)`` is called after every completed optimizer step (tests use it to
    simulate pre-emption). Raises :class:`~dnabert.lm.checkpointing.Preempted` after a
    signal-triggered checkpoint.
    """
    previous_threads = torch.get_num_threads()
    try:
        if threads:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            torch.set_num_threads(max(1, threads // (world if device != "cuda" else 1)))
        return _train(settings, corpus, outputs, dev_chromosomes, device, progress, on_step)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    settings: PretrainSettings,
    corpus: PathLike,
    outputs: Outputs,
    dev_chromosomes: Sequence[str],
    device: str,
    progress: bool | None,
    on_step: Callable[[int], None] | None,
) -> dict[str, Any]:
    ctx = _join(device)
    progress = sys.stderr.isatty() if progress is None else progress
    data = load_training_data(corpus, settings, dev_chromosomes)
    chosen = precision_for(ctx.device, settings.precision, field="pretrain.precision", training=True)
    autocast, precision = chosen.autocast, chosen.name
    log.info(
        "corpus %s: %d pieces for training, %d held out (%s); device %s x %d, %s, %s batches",
        corpus, data.train_ids.size, data.eval_ids.size, data.eval_source, ctx.device, ctx.world, precision,
        "packed" if settings.packing else "padded",
    )
    objective, n_params = _objective(settings, ctx)
    if ctx.main:  # what an atomic write killed by SIGKILL left behind
        sweep_temporaries([outputs.model, outputs.metrics, outputs.history, outputs.plot])

    state = TrainState()
    steps = settings.steps if (settings.continue_pretraining or not settings.pretrained) else 0
    board = ScalarLog(outputs.tensorboard if ctx.main else None)
    try:
        if steps:
            state = train_loop(settings, data, objective, outputs, ctx, chosen, steps, progress, on_step, board)
        final_eval = _final_evaluation(objective, data, settings, ctx, autocast, state)
        board.scalars(board_values(evaluation_row(final_eval)), state.step)
    finally:
        board.close()
    metrics = _metrics(settings, data, objective.model, n_params, state, final_eval, ctx, precision)
    if ctx.main:
        _write_outputs(outputs, settings, objective.model, state, final_eval, metrics)
    ctx.barrier()
    return metrics


def _join(device: str) -> Dist:
    """This process in the run: its rank and device (TF32 matmuls on CUDA); only rank 0 logs below warnings."""
    ctx = init_distributed(device)
    if ctx.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if not ctx.main:
        logging.getLogger("dnabert").setLevel(logging.WARNING)
    return ctx


def _objective(settings: PretrainSettings, ctx: Dist) -> tuple[MaskedLMObjective, dict[str, int]]:
    """The pretrained model (``settings.pretrained``) or a new one, as an MLM objective on the device; its size."""
    if settings.pretrained:
        model, _ = load_pretrained(settings.pretrained, settings.k)
    else:
        model = new_model(settings.k, settings.model, settings.seed)
    if model.config.max_position_embeddings < kmer.MAX_TOKENS:
        raise InputError(settings.pretrained, "max_position_embeddings below 512", field="max_position_embeddings")
    if settings.packing:
        check_packable(model.bert)
    model.to(ctx.device)
    objective = MaskedLMObjective(model).to(ctx.device)
    n_params = count_parameters(model)
    log.info("model: %d layers, hidden %d, %d parameters (%d non-embedding)", model.config.num_hidden_layers,
             model.config.hidden_size, n_params["total"], n_params["non_embedding"])
    return objective, n_params


MIN_CONTEXT_GAIN = 0.05  # nats below the k-mer frequencies' [MASK] loss that count as learning from context


def _final_evaluation(
    objective: MaskedLMObjective,
    data: TrainingData,
    settings: PretrainSettings,
    ctx: Dist,
    autocast: Autocast,
    state: TrainState,
) -> dict[str, float]:
    """Held-out metrics of the final model, added to the last log row (or a new one at the final step).

    The ``[MASK]`` positions are also scored by the training k-mer frequencies (no context); a model
    that does not beat them by :data:`MIN_CONTEXT_GAIN` nats has learned nothing from context: a warning.
    """
    frequencies = kmer_log_frequencies(data.store, data.train_ids, objective.model.config.vocab_size, settings.seed)
    final_eval = evaluate(objective, data.store, data.held_out, settings, ctx, autocast, frequencies)
    at_mask = final_eval["by_input"]["mask"]
    log.info("held-out: loss %.4f, accuracy %.4f over %d masked tokens; at the %d shown as [MASK] (what context "
             "taught): loss %.4f, accuracy %.4f; the training k-mer frequencies alone: loss %.4f",
             final_eval["loss"], final_eval["accuracy"], final_eval["masked_tokens"], at_mask["tokens"],
             at_mask["loss"], at_mask["accuracy"], at_mask["frequency_loss"])  # fmt: skip
    gain = at_mask["frequency_loss"] - at_mask["loss"]
    if ctx.main and at_mask["tokens"] and gain < MIN_CONTEXT_GAIN:
        log.warning("at [MASK] inputs the model is no better than the training k-mer frequencies (loss %.4f "
                    "against %.4f): it has not learned to use the neighbouring k-mers yet; DNABERT pretrained "
                    "for 120,000 steps", at_mask["loss"], at_mask["frequency_loss"])  # fmt: skip
    final_row = evaluation_row(final_eval)
    if state.history and state.history[-1]["step"] == state.step:
        state.history[-1].update(final_row)
    else:
        state.history.append(history_row(state, final_row))
    return final_eval


def _metrics(
    settings: PretrainSettings,
    data: TrainingData,
    model: BertForMaskedLM,
    n_params: dict[str, int],
    state: TrainState,
    final_eval: dict[str, float],
    ctx: Dist,
    precision: str,
) -> dict[str, Any]:
    """The run's ``metrics.json``: progress, held-out metrics, model size, setup.

    Nothing that depends on the wall clock: the same settings give the same file. Time
    and throughput are in the training log (``elapsed_s``, ``tokens_per_s``) and the job's log.
    """
    return {
        "k": settings.k,
        "steps": state.step,
        "tokens": state.tokens,
        "epochs": state.epochs,
        "padding_fraction": round(1 - state.tokens / state.padded_tokens, 5) if state.padded_tokens else None,
        "eval": {
            **final_eval,
            "perplexity": math.exp(min(final_eval["loss"], 50.0)),
            "mask_rate": settings.masking.rate,
            "pieces": int(data.eval_ids.size),
            "held_out": data.eval_source,
            "uniform_loss": math.log(4**settings.k),
        },
        "train": train_summary(state.history),
        "model": {
            "layers": model.config.num_hidden_layers,
            "hidden": model.config.hidden_size,
            "heads": model.config.num_attention_heads,
            "intermediate": model.config.intermediate_size,
            "parameters": n_params,
        },
        "pretrained": settings.pretrained,
        "resumed_from_step": state.resumed_from,
        "device": ctx.device.type,
        "kernels": kernels_of(ctx.device),
        "processes": ctx.world,
        "precision": precision,
        "settings": asdict(settings),
    }


def _write_outputs(
    outputs: Outputs,
    settings: PretrainSettings,
    model: BertForMaskedLM,
    state: TrainState,
    final_eval: dict[str, float],
    metrics: dict[str, Any],
) -> None:
    """The model directory, the training log, its plot and metrics.json (rank 0)."""
    save_model(model, outputs.model, settings.k)
    write_history(outputs.history, state.history, HISTORY_FIELDS)
    layers = model.config.num_hidden_layers
    title = (f"{settings.k}-mer BERT MLM: {layers} layer{'s' * (layers != 1)}, hidden {model.config.hidden_size}, "
             f"{state.tokens:,} tokens; held-out loss {final_eval['loss']:.3f}")
    plot_history(outputs.plot, state.history, title, uniform_loss=math.log(4**settings.k))
    write_text_atomic(outputs.metrics, json.dumps(metrics, indent=2) + "\n")
