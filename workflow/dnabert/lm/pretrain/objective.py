"""The MLM objective (summed cross-entropy, head at the masked positions only) and held-out evaluation.

A micro-batch is padded (``attention_mask``, the Hugging Face forward) or packed (a
``layout``: :func:`dnabert.lm.packing.packed_encoder`); the loss is the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForMaskedLM

from dnabert.lm.masking import seeded_generator
from dnabert.lm.packing import PackedLayout, packed_encoder
from dnabert.lm.pretrain.batches import make_micro_batch
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain.pieces import PieceStore
from dnabert.lm.pretrain.settings import PretrainSettings

EVAL_STREAM = 0x5EED_E7A1  # masking stream of the evaluation batches, apart from training's


class MaskedLMObjective(nn.Module):
    """Summed MLM cross-entropy and correct predictions, with the head run only at masked positions."""

    def __init__(self, model: BertForMaskedLM, attention_backend: str = "auto"):
        super().__init__()
        self.model = model
        self.attention_backend = attention_backend  # kernel of packed batches (dnabert.lm.packing.BACKENDS)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        positions: torch.Tensor,
        targets: torch.Tensor,
        layout: PackedLayout | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if layout is None:
            hidden = self.model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        else:
            hidden = packed_encoder(self.model.bert, input_ids, layout, self.attention_backend)
        selected = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        logits = self.model.cls(selected).float()
        loss = F.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.detach().argmax(-1) == targets).sum()
        return loss, correct


@torch.no_grad()
def evaluate(
    objective: nn.Module,
    store: PieceStore,
    batches: list[np.ndarray],
    settings: PretrainSettings,
    ctx: Dist,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> dict[str, float]:
    """Masked-token loss and accuracy on the held-out batches (fixed masking at ``masking.rate``)."""
    was_training = objective.training
    objective.eval()
    loss = correct = masked = 0.0
    for index in range(ctx.rank, len(batches), ctx.world):
        generator = seeded_generator(settings.seed, EVAL_STREAM, index)
        batch = make_micro_batch(store, batches[index], settings.k, settings.masking.rate, generator,
                                 packed=settings.packing).to(ctx.device)  # fmt: skip
        with autocast():
            batch_loss, batch_correct = objective(batch.input_ids, batch.attention_mask, batch.positions, batch.targets,
                                                  batch.layout)  # fmt: skip
        loss += float(batch_loss)
        correct += float(batch_correct)
        masked += batch.masked
    loss, correct, masked = ctx.sum([loss, correct, masked])
    objective.train(was_training)
    return {
        "loss": loss / max(masked, 1.0),
        "accuracy": correct / max(masked, 1.0),
        "masked_tokens": int(masked),
    }
