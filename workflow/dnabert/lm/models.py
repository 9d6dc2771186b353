"""BERT models for k-mer DNA: configuration, DNABERT release loading, saving.

Models are plain ``transformers`` ``BertForMaskedLM``: no remote code, so a saved
directory loads anywhere with ``AutoModelForMaskedLM.from_pretrained``.

:func:`load_pretrained` reads both a Hugging Face directory written by this
project and a DNABERT release directory (Ji et al. 2021): a ``config.json`` that
may carry DNABERT's extra keys (``split``, ``rnn``, ``num_rnn_layer``,
``rnn_hidden``, ``rnn_dropout``, used by its fine-tuning code only), a
``vocab.txt`` in DNABERT's k-mer order, and ``model.safetensors`` or
``pytorch_model.bin``. Pickled weights are opened only with
``torch.load(weights_only=True)``, which refuses anything but tensors and plain
containers. Parameter names from older checkpoints are normalised (``module.``
prefixes, a missing ``bert.`` prefix, LayerNorm ``gamma``/``beta``); pooler,
next-sentence and classifier weights are dropped. A checkpoint without an MLM
head (a fine-tuned classifier) loads with a freshly initialised head and a warning
(or, with ``require_head=True``, is refused). Every loader here takes a model
*reference*: a directory or a Hugging Face Hub id (:mod:`dnabert.lm.hub`).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForMaskedLM

from dnabert.lm import kmer
from dnabert.lm.hub import resolve_model
from dnabert.io import InputError, PathLike

log = logging.getLogger(__name__)

#: Keys DNABERT's fork added to config.json (its RNN fine-tuning heads); not BERT settings.
DNABERT_EXTRA_KEYS = ("split", "rnn", "num_rnn_layer", "rnn_hidden", "rnn_dropout")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
#: Parameters of other heads, or non-persistent buffers, that a masked LM does not use.
_DROPPED = re.compile(
    r"^(bert\.pooler\.|cls\.seq_relationship\.|classifier\.|rnn\.|dropout\.)|position_ids$|token_type_ids$"
)


@dataclass(frozen=True)
class ModelSettings:
    """BERT sizes (DNABERT-base: 12 layers, 768 hidden, 12 heads, 3072 intermediate)."""

    layers: int = 12
    hidden: int = 768
    heads: int = 12
    intermediate: int = 3072
    max_positions: int = kmer.MAX_TOKENS
    dropout: float = 0.1
    attention_dropout: float = 0.1

    def __post_init__(self) -> None:
        for field in ("layers", "hidden", "heads", "intermediate"):
            if getattr(self, field) < 1:
                raise InputError(None, f"must be at least 1, got {getattr(self, field)!r}", field=f"model.{field}")
        if self.hidden % self.heads:
            raise InputError(
                None, f"hidden size {self.hidden} is not divisible by {self.heads} heads", field="model.heads"
            )
        if self.max_positions < kmer.MAX_TOKENS:
            raise InputError(
                None,
                f"must be at least {kmer.MAX_TOKENS} (corpus pieces hold up to 510 k-mers), got {self.max_positions}",
                field="model.max_positions",
            )
        for field in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, field) < 1.0:
                raise InputError(None, f"must be in [0, 1), got {getattr(self, field)!r}", field=f"model.{field}")


def bert_config(k: int, model: ModelSettings) -> BertConfig:
    """A DNABERT-style ``BertConfig`` for ``k``-mers (the released config's keys and defaults)."""
    return BertConfig(
        vocab_size=kmer.vocab_size(k),
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.intermediate,
        hidden_act="gelu",
        hidden_dropout_prob=model.dropout,
        attention_probs_dropout_prob=model.attention_dropout,
        max_position_embeddings=model.max_positions,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=kmer.PAD_ID,
        architectures=["BertForMaskedLM"],
    )


def new_model(k: int, model: ModelSettings, seed: int) -> BertForMaskedLM:
    """A freshly initialised masked LM (initialisation seeded, independent of the global RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForMaskedLM(bert_config(k, model))


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """Parameter counts: total (tied weights once), embeddings, and the rest (non-embedding)."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    embeddings = sum(p.numel() for name, p in model.named_parameters() if ".embeddings." in f".{name}")
    return {"total": total, "embedding": embeddings, "non_embedding": total - embeddings}


# --------------------------------------------------------------------------- loading


def read_config(directory: Path) -> tuple[BertConfig, list[str]]:
    """The model's ``BertConfig`` from ``config.json`` and the DNABERT extra keys it dropped."""
    path = directory / "config.json"
    if not path.is_file():
        raise InputError(path, "model config not found (expected a DNABERT release or Hugging Face model directory)")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(path, f"not valid JSON: {err.msg}", line=err.lineno) from None
    if not isinstance(raw, dict):
        raise InputError(path, "expected a JSON object")
    if raw.get("model_type", "bert") != "bert":
        raise InputError(path, f"expected a BERT model, found model_type {raw['model_type']!r}", field="model_type")
    dropped = [key for key in DNABERT_EXTRA_KEYS if key in raw]
    for key in dropped:
        raw.pop(key)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        if not isinstance(raw.get(key), int) or raw[key] < 1:
            raise InputError(path, f"missing or not a positive integer: {raw.get(key)!r}", field=key)
    raw.pop("transformers_version", None)
    return BertConfig.from_dict(raw), dropped


def infer_k(directory: Path, config: BertConfig) -> int:
    """k from the vocabulary size (4^k + 5), checked against ``vocab.txt`` where one is present."""
    by_size = {kmer.vocab_size(k): k for k in range(3, 7)}
    if config.vocab_size not in by_size:
        raise InputError(
            directory / "config.json",
            f"vocab_size {config.vocab_size} is not a DNABERT k-mer vocabulary (4^k + 5 for k = 3..6)",
            field="vocab_size",
        )
    k = by_size[config.vocab_size]
    vocab_file = directory / "vocab.txt"
    if vocab_file.is_file():
        file_k, tokens = kmer.read_vocab(vocab_file)
        if file_k != k:
            raise InputError(vocab_file, f"holds {file_k}-mers but config.json's vocab_size is for {k}-mers")
        if tokens != kmer.vocab(k):
            raise InputError(vocab_file, "token order differs from DNABERT's; ids would not match the corpus")
    return k


def read_state_dict(directory: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The weights in a model directory (safetensors preferred) and the file they came from."""
    for name in WEIGHT_FILES:
        path = directory / name
        if not path.is_file():
            continue
        if name == "model.safetensors":
            return _load_safetensors(path), path
        if name.endswith(".index.json"):
            try:
                files = sorted(set(json.loads(path.read_text())["weight_map"].values()))
            except (json.JSONDecodeError, KeyError, AttributeError) as err:
                raise InputError(path, f"not a safetensors index ({err})", field="weight_map") from None
            state: dict[str, torch.Tensor] = {}
            for file in files:
                state.update(_load_safetensors(directory / file))
            return state, path
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(
                path, f"cannot load as tensors only (torch.load weights_only=True refused it: {reason})"
            ) from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise InputError(path, "expected a mapping of parameter names to tensors")
        return state, path
    raise InputError(directory, f"no model weights found (looked for {', '.join(WEIGHT_FILES)})")


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(path, "weights file not found")
    try:
        return load_file(str(path), device="cpu")
    except Exception as err:  # safetensors raises its own SafetensorError
        raise InputError(path, f"not a readable safetensors file ({err})") from None


def normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Parameter names as ``BertForMaskedLM`` expects them; other heads and buffers dropped."""
    out: dict[str, torch.Tensor] = {}
    bare = not any(key.startswith(("bert.", "module.bert.")) for key in state)
    for key, value in state.items():
        name = key[len("module.") :] if key.startswith("module.") else key
        if bare and name.startswith(("embeddings.", "encoder.", "pooler.")):
            name = "bert." + name
        name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
        name = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)
        if _DROPPED.search(name):
            continue
        out[name] = value
    return out


def load_pretrained(
    directory: PathLike, k: int | None = None, *, require_head: bool = False
) -> tuple[BertForMaskedLM, int]:
    """Load a DNABERT release or Hugging Face BERT directory (or Hub id) as a masked LM; return it and its k.

    Raises :class:`InputError` naming the file when the config, vocabulary or
    weights do not fit (wrong k, missing encoder weights, wrong shapes), and with
    ``require_head`` when the checkpoint has no MLM head (e.g. a fine-tuned classifier).
    """
    directory = resolve_model(directory)
    config, dropped = read_config(directory)
    model_k = infer_k(directory, config)
    if k is not None and k != model_k:
        raise InputError(directory / "config.json", f"model is for {model_k}-mers but kmer is {k}", field="vocab_size")
    if dropped:
        log.info("%s: ignoring DNABERT fine-tuning keys %s", directory / "config.json", ", ".join(dropped))
    state, source = read_state_dict(directory)
    state = normalise_keys(state)
    model = BertForMaskedLM(config)
    tied = set(BertForMaskedLM._tied_weights_keys)
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:
        detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err))
        raise InputError(source, f"weights do not fit config.json: {detail}") from None
    missing = [key for key in missing if key not in tied]
    encoder_missing = [key for key in missing if key.startswith("bert.")]
    if encoder_missing:
        shown = ", ".join(encoder_missing[:5]) + (" ..." if len(encoder_missing) > 5 else "")
        raise InputError(source, f"{len(encoder_missing)} encoder weights missing: {shown}")
    if missing and require_head:
        raise InputError(source, "no masked-language-model head in the checkpoint (a fine-tuned classifier?): "
                         "give the pretrained model (e.g. results/pretrain/model or a DNABERT release)")
    if missing:
        log.warning("%s: no MLM head in the checkpoint (%s); it is initialised randomly", source, ", ".join(missing))
    if unexpected:
        log.warning("%s: ignoring %d unexpected weights: %s", source, len(unexpected), ", ".join(unexpected[:5]))
    model.tie_weights()
    log.info("loaded a %d-mer BERT (%d layers, hidden %d) from %s", model_k, config.num_hidden_layers,
             config.hidden_size, source)
    return model, model_k


def save_model(model: BertForMaskedLM, directory: PathLike, k: int) -> Path:
    """Write a Hugging Face model directory (config.json, model.safetensors, tokenizer) atomically.

    Files go to a temporary sibling directory that replaces ``directory`` only when complete.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.save_pretrained(tmp)
        kmer.save_hf_tokenizer(tmp, k)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved the model to %s", directory)
    return directory
