"""Packed (unpadded) BERT encoding: pieces of different lengths in one token stream, attention within each piece.

A padded micro-batch of ``B`` rows of width ``L`` spends compute on ``B * L - T``
padding tokens. Packed, the ``T`` real tokens are one stream: every linear layer,
LayerNorm and feed-forward runs on ``T`` rows only, position ids restart at 0 in
each piece, and attention is computed within each piece (a block-diagonal mask,
never materialised). The result equals the padded model's at the real positions
(tested to 1e-5 in fp32).

:func:`pack_rows` turns a padded batch into a packed one (:class:`PackedLayout`:
``cu_seqlens`` offsets, position ids, longest piece, runs of equal-length pieces);
:func:`packed_encoder` runs a Hugging Face ``BertModel``'s own modules (embeddings,
query/key/value, output projections, feed-forward, LayerNorms) on the stream, with
:func:`varlen_attention` in place of the padded attention. Attention kernels
(``backend``):

* ``flash``: ``flash_attn.flash_attn_varlen_func`` (the flash-attn package, CUDA,
  fp16/bf16) where it is installed;
* ``jagged``: PyTorch SDPA on nested jagged tensors (CUDA picks its flash or
  memory-efficient kernel with the offsets);
* ``runs``: one batched SDPA per run of consecutive equal-length pieces. Batches are
  cut from length-sorted pools, so pieces of one length sit together and most
  batches have a handful of runs; this is the CPU kernel (jagged SDPA on CPU is
  several times slower) and the fallback.

``auto`` picks ``flash``, then ``jagged`` on CUDA, and ``runs`` elsewhere.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BertModel

BACKENDS = ("auto", "flash", "jagged", "runs")


@dataclass
class PackedLayout:
    """Where each piece sits in a packed stream of ``T`` tokens."""

    cu_seqlens: torch.Tensor  # (n + 1,) int32 token offsets of the pieces
    position_ids: torch.Tensor  # (T,) int64, 0 .. length - 1 within each piece
    max_len: int
    runs: tuple[tuple[int, int, int], ...]  # (first token, pieces, length) of consecutive equal-length pieces

    @property
    def tokens(self) -> int:
        return int(self.position_ids.numel())

    def to(self, device: torch.device, non_blocking: bool = False) -> PackedLayout:
        return replace(self, cu_seqlens=self.cu_seqlens.to(device, non_blocking=non_blocking),
                       position_ids=self.position_ids.to(device, non_blocking=non_blocking))  # fmt: skip

    def pin_memory(self) -> PackedLayout:
        return replace(self, cu_seqlens=self.cu_seqlens.pin_memory(), position_ids=self.position_ids.pin_memory())


def layout_of(lengths: np.ndarray) -> PackedLayout:
    """The packed layout of pieces of these lengths, in this order."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    positions = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
    change = np.flatnonzero(np.diff(lengths)) + 1
    starts = np.concatenate(([0], change))
    counts = np.diff(np.append(starts, lengths.size))
    runs = tuple((int(offsets[s]), int(c), int(lengths[s])) for s, c in zip(starts, counts))
    return PackedLayout(torch.from_numpy(offsets.astype(np.int32)), torch.from_numpy(positions),
                        int(lengths.max(initial=0)), runs)  # fmt: skip


def pack_rows(input_ids: torch.Tensor, lengths: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, PackedLayout]:
    """The real tokens of a padded (B, L) batch as one stream.

    Returns the packed ids (T,), the flat (row * L + col) index of each packed token in
    the padded batch (ascending, so any row-major order is kept), and the layout.
    """
    width = input_ids.shape[1]
    lengths = np.asarray(lengths, dtype=np.int64)
    flat = (np.arange(lengths.size).repeat(lengths) * width
            + np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths))  # fmt: skip
    index = torch.from_numpy(flat)
    return input_ids.reshape(-1)[index], index, layout_of(lengths)


# --------------------------------------------------------------------------- attention


def flash_available() -> bool:
    """Whether the flash-attn package is installed (its varlen kernel needs CUDA and fp16/bf16)."""
    return importlib.util.find_spec("flash_attn") is not None


def choose_backend(backend: str, device: torch.device, dtype: torch.dtype) -> str:
    """The kernel ``auto`` means here: flash-attn where installed (CUDA, half precision), jagged SDPA on CUDA, runs."""
    if backend not in BACKENDS:
        raise ValueError(f"attention backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    if device.type == "cuda":
        if dtype in (torch.float16, torch.bfloat16) and flash_available():
            return "flash"
        return "jagged"
    return "runs"


def varlen_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    layout: PackedLayout,
    *,
    scale: float,
    dropout_p: float = 0.0,
    backend: str = "auto",
) -> torch.Tensor:
    """Scaled dot-product attention of (T, H, d) queries, keys and values within each piece; (T, H, d) out."""
    chosen = choose_backend(backend, q.device, q.dtype)
    if chosen == "flash":
        from flash_attn import flash_attn_varlen_func

        cu = layout.cu_seqlens
        return flash_attn_varlen_func(q, k, v, cu, cu, layout.max_len, layout.max_len, dropout_p=dropout_p,
                                      softmax_scale=scale, causal=False)  # fmt: skip
    if chosen == "jagged":
        offsets = layout.cu_seqlens.to(torch.int64)

        def nest(x: torch.Tensor) -> torch.Tensor:
            nested = torch.nested.nested_tensor_from_jagged(x, offsets, max_seqlen=layout.max_len)
            return nested.transpose(1, 2)  # (n, H, j, d)

        out = F.scaled_dot_product_attention(nest(q), nest(k), nest(v), dropout_p=dropout_p, scale=scale)
        return out.transpose(1, 2).values()
    outputs = []
    for start, count, length in layout.runs:
        span = slice(start, start + count * length)
        shaped = [x[span].view(count, length, *x.shape[1:]).transpose(1, 2) for x in (q, k, v)]
        out = F.scaled_dot_product_attention(*shaped, dropout_p=dropout_p, scale=scale)
        outputs.append(out.transpose(1, 2).reshape(count * length, *q.shape[1:]))
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


# --------------------------------------------------------------------------- the encoder


def check_packable(bert: BertModel) -> None:
    """Packing covers BERT encoders (bidirectional self-attention, absolute positions); refuse anything else."""
    config = bert.config
    if config.is_decoder or config.add_cross_attention:
        raise ValueError("packed encoding supports encoder-only BERT models")
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"packed encoding needs absolute position embeddings, not {config.position_embedding_type}")


def packed_encoder(bert: BertModel, input_ids: torch.Tensor, layout: PackedLayout, backend: str = "auto") -> torch.Tensor:
    """Hidden states (T, hidden) of a packed stream of token ids (T,), through ``bert``'s own modules."""
    hidden = bert.embeddings(input_ids=input_ids[None], position_ids=layout.position_ids[None])[0]
    tokens = hidden.shape[0]
    for layer in bert.encoder.layer:
        attention = layer.attention.self
        shape = (tokens, attention.num_attention_heads, attention.attention_head_size)
        q, k, v = (proj(hidden).view(shape) for proj in (attention.query, attention.key, attention.value))
        context = varlen_attention(q, k, v, layout, scale=attention.scaling, backend=backend,
                                   dropout_p=attention.dropout.p if attention.training else 0.0)  # fmt: skip
        attended = layer.attention.output(context.reshape(tokens, -1), hidden)
        hidden = layer.output(layer.intermediate(attended), attended)
    return hidden
