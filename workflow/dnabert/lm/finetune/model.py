"""The classifier a run trains: a pretrained, released or random encoder under a seeded head; LoRA via ``peft``.

:func:`build_classifier` makes the ``BertForSequenceClassification``; with
``finetune.lora`` :func:`add_lora` wraps it in ``peft`` low-rank adapters (the encoder
frozen, the pooler and head trained in full). When the run ends, :func:`export_lora`
saves the adapter (``adapter_model.safetensors`` + ``adapter_config.json``) and merges it
into the weights, so the run's ``model/`` stays a plain classifier directory that
``transformers`` (and every later step) loads without ``peft``.
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn
from transformers import BertForSequenceClassification

from dnabert.io import InputError, PathLike, atomic_dir
from dnabert.lm.finetune.settings import FinetuneSettings, LoraSettings
from dnabert.lm.models import bert_config, count_parameters, load_pretrained

log = logging.getLogger("dnabert.lm.finetune")

#: Modules trained in full next to the adapters: the head, and the pooler (random when starting from an MLM).
LORA_FULLY_TRAINED = ("classifier", "pooler")
LORA_SEED_OFFSET = 7_919  # the adapters' initialisation stream, apart from the head's


def build_classifier(
    settings: FinetuneSettings, k: int, n_classes: int, seed: int, model_dir: PathLike | None = None
) -> BertForSequenceClassification:
    """A sequence classifier: pretrained or released encoder from ``model_dir``, or a random one.

    The pooler and classification head (and, from scratch, everything) are initialised
    from ``seed``, independently of the global random state.
    """
    if settings.init == "scratch":
        config = bert_config(k, settings.scratch_model)
        encoder = None
        origin = "scratch"
    else:
        if model_dir is None:
            raise InputError(None, f"init: {settings.init} needs a model directory", field="finetune.init")
        mlm, _ = load_pretrained(model_dir, k)
        config = copy.deepcopy(mlm.config)
        encoder = mlm.bert.state_dict()
        origin = str(model_dir)
    config.num_labels = n_classes
    config.id2label = {i: f"class_{i}" for i in range(n_classes)}
    config.label2id = {f"class_{i}": i for i in range(n_classes)}
    config.hidden_dropout_prob = settings.dropout
    config.classifier_dropout = None  # the head uses hidden_dropout_prob
    config.problem_type = "single_label_classification"
    config.architectures = ["BertForSequenceClassification"]
    config.both_strands = settings.both_strands  # every later prediction averages over both strands
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
    if encoder is not None:
        missing, unexpected = model.bert.load_state_dict(encoder, strict=False)
        missing = [key for key in missing if not key.startswith("pooler.")]
        if missing or unexpected:
            raise InputError(
                model_dir, f"encoder weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
    counts = count_parameters(model)
    log.info("classifier with %d classes from %s: %.1fM parameters", n_classes, origin, counts["total"] / 1e6)
    return model


def add_lora(model: BertForSequenceClassification, lora: LoraSettings, seed: int, base: PathLike | None) -> nn.Module:
    """Wrap the classifier in LoRA adapters (``peft``); only adapters, pooler and head stay trainable.

    The adapters' initialisation is seeded from ``seed``, apart from the global random state.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    unknown = sorted(set(lora.target_modules) - names)
    if unknown:
        raise InputError(None, f"no linear layers named {', '.join(unknown)} (the encoder's: "
                               f"{', '.join(sorted(names))})", field="finetune.lora.target_modules")  # fmt: skip
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.target_modules), modules_to_save=list(LORA_FULLY_TRAINED))  # fmt: skip
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)  # peft's call
        torch.manual_seed(seed * 1_000_003 + LORA_SEED_OFFSET)
        wrapped = get_peft_model(model, config)
    wrapped.peft_config["default"].base_model_name_or_path = None if base is None else str(base)  # provenance
    trainable, total = trainable_parameters(wrapped), count_parameters(model)["total"]
    log.info("LoRA r=%d alpha=%g on %s: %d trainable parameters of %d (%.2f%%)", lora.r, lora.alpha,
             ", ".join(lora.target_modules), trainable, total, 100 * trainable / total)  # fmt: skip
    return wrapped


def trainable_parameters(model: nn.Module) -> int:
    """Parameters the optimizer updates (tied weights once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


def is_lora(model: nn.Module) -> bool:
    return hasattr(model, "peft_config")


def export_lora(model: nn.Module, adapter_dir: Path | None) -> BertForSequenceClassification:
    """Save the adapter (atomically, if ``adapter_dir``), then merge it: the plain classifier with merged weights."""
    if adapter_dir is not None:
        with atomic_dir(adapter_dir) as tmp:
            model.save_pretrained(tmp)
            (tmp / "README.md").unlink(missing_ok=True)  # peft's empty model card
        log.info("saved the LoRA adapter to %s", adapter_dir)
    merged = model.merge_and_unload()
    merged.config.architectures = ["BertForSequenceClassification"]
    return merged
