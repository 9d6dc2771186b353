"""The MLM objective (summed cross-entropy, head at the masked positions only) and held-out evaluation.

A micro-batch is padded (``attention_mask``, the Hugging Face forward) or packed (a
``layout``: :func:`dnabert.lm.packing.packed_encoder`); the loss is the same.

The held-out figures are also split by what the model was shown at each masked
position (:data:`INPUT_KINDS`): ``[MASK]`` (80 %), a random k-mer (10 %) or the
original k-mer left unchanged (10 %). Only the ``[MASK]`` positions measure what the
model has learned from context: a model that copies its input and guesses k-mer
frequencies elsewhere scores about 10 % accuracy overall and 0 at ``[MASK]``. What the
model learned from context is measured against :func:`kmer_log_frequencies`: the loss that
the training pieces' k-mer frequencies, with no context at all, score at the same positions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertForMaskedLM

from dnabert.lm.kmer import MASK_ID, N_SPECIAL
from dnabert.lm.masking import seeded_generator
from dnabert.lm.packing import PackedLayout, packed_encoder
from dnabert.lm.pretrain.batches import make_micro_batch
from dnabert.lm.pretrain.distributed import Dist
from dnabert.lm.pretrain.pieces import PieceStore
from dnabert.lm.pretrain.settings import PretrainSettings

FREQUENCY_TOKENS = 20_000_000  # training tokens counted (at most) for the k-mer frequency baseline
FREQUENCY_CHUNK = 2_048  # pieces gathered at a time while counting
EVAL_STREAM = 0x5EED_E7A1  # masking stream of the evaluation batches, apart from training's
INPUT_KINDS = ("mask", "random", "unchanged")  # what a masked position showed the model (index = kind code)


class MaskedLMObjective(nn.Module):
    """Summed MLM cross-entropy and correct predictions, with the head run only at masked positions."""

    def __init__(self, model: BertForMaskedLM, attention_backend: str = "auto"):
        super().__init__()
        self.model = model
        self.attention_backend = attention_backend  # kernel of packed batches (dnabert.lm.packing.BACKENDS)

    def masked_logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        positions: torch.Tensor,
        layout: PackedLayout | None = None,
    ) -> torch.Tensor:
        """The MLM head's logits (float32) at the flat ``positions`` only."""
        if layout is None:
            hidden = self.model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        else:
            hidden = packed_encoder(self.model.bert, input_ids, layout, self.attention_backend)
        selected = hidden.reshape(-1, hidden.shape[-1]).index_select(0, positions)
        return self.model.cls(selected).float()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        positions: torch.Tensor,
        targets: torch.Tensor,
        layout: PackedLayout | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.masked_logits(input_ids, attention_mask, positions, layout)
        loss = F.cross_entropy(logits, targets, reduction="sum")
        correct = (logits.detach().argmax(-1) == targets).sum()
        return loss, correct


def input_kinds(input_ids: torch.Tensor, positions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Kind code (index into :data:`INPUT_KINDS`) of each masked position, from what the model was shown there.

    A random replacement that happens to draw the original k-mer counts as unchanged: that is what the model saw.
    """
    shown = input_ids.reshape(-1).index_select(0, positions)
    return torch.where(shown == MASK_ID, 0, torch.where(shown == targets, 2, 1))


def frequency_pieces(store: PieceStore, pieces: np.ndarray, seed: int) -> np.ndarray:
    """The pieces :func:`kmer_log_frequencies` counts: all, or above :data:`FREQUENCY_TOKENS` tokens the
    fewest of a seeded shuffle that hold that many (sorted ids)."""
    pieces = np.asarray(pieces, dtype=np.int64)
    if int(store.lengths[pieces].sum()) <= FREQUENCY_TOKENS:
        return pieces
    shuffled = np.random.default_rng([seed, 11]).permutation(pieces)
    enough = int(np.searchsorted(np.cumsum(store.lengths[shuffled]), FREQUENCY_TOKENS)) + 1
    return np.sort(shuffled[:enough])


def kmer_log_frequencies(store: PieceStore, pieces: np.ndarray, vocab_size: int, seed: int) -> torch.Tensor:
    """Log-probability of every token id under the k-mer frequencies of the training ``pieces`` (add-one smoothed).

    A model that has learned nothing from context can at best predict these at a
    ``[MASK]``. Corpora above :data:`FREQUENCY_TOKENS` are counted on a seeded sample of
    pieces. Special tokens (never targets) get log-probability ``-inf``.
    """
    pieces = frequency_pieces(store, pieces, seed)
    counts = np.ones(vocab_size, dtype=np.float64)
    counts[:N_SPECIAL] = 0.0
    for start in range(0, pieces.size, FREQUENCY_CHUNK):
        ids, _ = store.gather(pieces[start : start + FREQUENCY_CHUNK])
        ids = ids[ids >= N_SPECIAL]
        counts += np.bincount(ids, minlength=vocab_size)[:vocab_size]
    with np.errstate(divide="ignore"):
        return torch.from_numpy(np.log(counts / counts.sum()))


@torch.no_grad()
def evaluate(
    objective: MaskedLMObjective,
    store: PieceStore,
    batches: list[np.ndarray],
    settings: PretrainSettings,
    ctx: Dist,
    autocast: Callable[[], contextlib.AbstractContextManager],
    log_frequencies: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Masked-token loss and accuracy on the held-out batches (fixed masking at ``masking.rate``), overall and
    by what each masked position showed the model (``by_input``: ``[MASK]``, random k-mer, unchanged).

    With ``log_frequencies`` (:func:`kmer_log_frequencies`) every part also gets ``frequency_loss``: the
    cross-entropy of the k-mer frequencies at the same positions, what no context scores.
    """
    was_training = objective.training
    objective.eval()
    frequencies = None if log_frequencies is None else log_frequencies.to(ctx.device, torch.float64)
    # Rows: summed loss, correct predictions, tokens, frequency loss; columns: INPUT_KINDS (one-hot sums:
    # deterministic on GPUs).
    sums = torch.zeros(4, len(INPUT_KINDS), dtype=torch.float64, device=ctx.device)
    for index in range(ctx.rank, len(batches), ctx.world):
        generator = seeded_generator(settings.seed, EVAL_STREAM, index)
        batch = make_micro_batch(store, batches[index], settings.k, settings.masking.rate, generator,
                                 packed=settings.packing).to(ctx.device)  # fmt: skip
        with autocast():
            logits = objective.masked_logits(batch.input_ids, batch.attention_mask, batch.positions, batch.layout)
        token_loss = F.cross_entropy(logits, batch.targets, reduction="none")
        token_correct = logits.argmax(-1) == batch.targets
        kind = F.one_hot(input_kinds(batch.input_ids, batch.positions, batch.targets), len(INPUT_KINDS)).double()
        no_context = torch.zeros_like(kind[:, 0]) if frequencies is None else -frequencies[batch.targets]
        rows = [token_loss.double(), token_correct.double(), torch.ones_like(kind[:, 0]), no_context]
        sums += torch.stack(rows) @ kind
    totals = ctx.sum(sums.flatten().tolist())  # one all-reduce
    kinds = len(INPUT_KINDS)
    loss, correct, masked, no_context = (totals[row * kinds : (row + 1) * kinds] for row in range(4))
    objective.train(was_training)
    ratio = lambda num, den: num / max(den, 1.0)  # noqa: E731
    baseline = (lambda code: {}) if frequencies is None else (  # noqa: E731
        lambda code: {"frequency_loss": ratio(no_context[code], masked[code])})
    result = {
        "loss": ratio(sum(loss), sum(masked)),
        "accuracy": ratio(sum(correct), sum(masked)),
        "masked_tokens": int(sum(masked)),
        "by_input": {name: {"tokens": int(masked[code]), "loss": ratio(loss[code], masked[code]),
                            "accuracy": ratio(correct[code], masked[code]), **baseline(code)}
                     for code, name in enumerate(INPUT_KINDS)},  # fmt: skip
    }
    if frequencies is not None:
        result["frequency_loss"] = ratio(sum(no_context), sum(masked))
    return result


def evaluation_row(result: dict[str, Any]) -> dict[str, float]:
    """The training-log columns of a held-out evaluation (:data:`dnabert.lm.pretrain.history.HISTORY_FIELDS`)."""
    return {"eval_loss": round(result["loss"], 5), "eval_accuracy": round(result["accuracy"], 5),
            "eval_mask_accuracy": round(result["by_input"]["mask"]["accuracy"], 5)}  # fmt: skip
