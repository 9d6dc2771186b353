"""Loading DNABERT release directories with plain transformers; saving Hugging Face model directories."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from conftest import shared_file
from dnabert.lm import kmer
from dnabert.io import InputError
from dnabert.lm.models import ModelSettings, bert_config, load_pretrained, new_model, save_model

TINY = ModelSettings(layers=2, hidden=32, heads=2, intermediate=64)
RELEASE_FILES = ("vocab.txt", "special_tokens_map.json", "tokenizer_config.json")


class NotATensor:
    """Something a pickle can carry but weights_only loading must refuse."""


def _release_dir(tmp_path: Path, model, *, rename=None, drop=(), extra_keys=True) -> Path:
    """A directory laid out like a DNABERT release: its config.json (tiny sizes), vocab and tokenizer files,
    and pytorch_model.bin holding a plain state dict as transformers 2.x saved it."""
    release = shared_file("dnabert/vocab/6")
    out = tmp_path / "dnabert6"
    out.mkdir()
    config = json.loads((release / "config.json").read_text())
    assert config["vocab_size"] == kmer.vocab_size(6)
    config.update(hidden_size=TINY.hidden, num_hidden_layers=TINY.layers, num_attention_heads=TINY.heads,
                  intermediate_size=TINY.intermediate)
    if extra_keys:  # the keys DNABERT's fork adds for its RNN fine-tuning heads
        config.update(split=10, rnn="lstm", num_rnn_layer=2, rnn_hidden=768, rnn_dropout=0.0)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    for name in RELEASE_FILES:
        shutil.copy(release / name, out / name)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    state["bert.pooler.dense.weight"] = torch.zeros(TINY.hidden, TINY.hidden)  # released models carry a pooler
    state["bert.pooler.dense.bias"] = torch.zeros(TINY.hidden)
    for key in list(state):
        if key in drop or any(key.startswith(prefix) for prefix in drop):
            del state[key]
    if rename:
        state = {rename(key): value for key, value in state.items()}
    torch.save(state, out / "pytorch_model.bin")
    return out


@pytest.fixture
def model():
    return new_model(6, TINY, seed=3).eval()


def _logits(model, ids):
    with torch.no_grad():
        return model.eval()(ids).logits


IDS = torch.tensor([[kmer.CLS_ID, 10, 200, 3000, 4100, 7, kmer.SEP_ID]])


def test_loads_a_dnabert_release_directory(tmp_path, model, caplog):
    directory = _release_dir(tmp_path, model)
    with caplog.at_level(logging.INFO, logger="dnabert.lm.models"):
        loaded, k = load_pretrained(directory)
    assert k == 6
    assert "split, rnn, num_rnn_layer, rnn_hidden, rnn_dropout" in caplog.text
    assert not hasattr(loaded.config, "rnn")
    assert torch.equal(_logits(loaded, IDS), _logits(model, IDS))
    assert loaded.cls.predictions.decoder.weight.data_ptr() == loaded.bert.embeddings.word_embeddings.weight.data_ptr()


def test_old_parameter_names_are_normalised(tmp_path, model):
    """LayerNorm gamma/beta (TF-converted checkpoints) and a DataParallel 'module.' prefix."""

    def rename(key: str) -> str:
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        return "module." + key

    loaded, _ = load_pretrained(_release_dir(tmp_path, model, rename=rename))
    assert torch.equal(_logits(loaded, IDS), _logits(model, IDS))


def test_saved_model_reloads_with_plain_transformers(tmp_path, model):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    loaded, k = load_pretrained(_release_dir(tmp_path, model))
    out = save_model(loaded, tmp_path / "model", k)
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt"} <= {p.name for p in out.iterdir()}
    assert not list(tmp_path.glob(".model.*"))  # no temporary directory left
    again = AutoModelForMaskedLM.from_pretrained(out)
    assert torch.equal(_logits(again, IDS), _logits(model, IDS))
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer("ACGTACG")["input_ids"] == kmer.encode("ACGTACG", 6).tolist()
    # and our own loader reads our own directories (safetensors)
    ours, _ = load_pretrained(out)
    assert torch.equal(_logits(ours, IDS), _logits(model, IDS))


def test_classifier_checkpoint_loads_with_a_fresh_head(tmp_path, model, caplog):
    directory = _release_dir(tmp_path, model, drop=("cls.",))
    with caplog.at_level(logging.WARNING, logger="dnabert.lm.models"):
        loaded, _ = load_pretrained(directory)
    assert "no MLM head" in caplog.text
    layer, original = loaded.bert.encoder.layer[0], model.bert.encoder.layer[0]
    assert torch.equal(layer.output.dense.weight, original.output.dense.weight)


def test_pickled_objects_are_refused(tmp_path, model):
    directory = _release_dir(tmp_path, model)
    torch.save({"bert.embeddings.word_embeddings.weight": NotATensor()}, directory / "pytorch_model.bin")
    with pytest.raises(InputError, match="weights_only=True") as err:
        load_pretrained(directory)
    assert "pytorch_model.bin" in str(err.value)


def test_missing_encoder_weights_and_wrong_shapes_are_reported(tmp_path, model):
    directory = _release_dir(tmp_path, model, drop=("bert.encoder.layer.1.",))
    with pytest.raises(InputError, match="encoder weights missing: bert.encoder.layer.1"):
        load_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    config["num_hidden_layers"] = 1
    config["hidden_size"] = 64
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="do not fit config.json"):
        load_pretrained(directory)


def test_wrong_k_and_bad_vocab_are_reported(tmp_path, model):
    directory = _release_dir(tmp_path, model)
    with pytest.raises(InputError, match="6-mers but kmer is 5"):
        load_pretrained(directory, k=5)
    shutil.copy(shared_file("dnabert/vocab/5/vocab.txt"), directory / "vocab.txt")
    with pytest.raises(InputError, match="5-mers"):
        load_pretrained(directory)
    (directory / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="config.json"):
        load_pretrained(directory)
    with pytest.raises(InputError, match="not found"):
        load_pretrained(tmp_path / "absent")


def test_bert_config_matches_the_release(tmp_path):
    release = json.loads((shared_file("dnabert/vocab/6") / "config.json").read_text())
    config = bert_config(6, ModelSettings()).to_dict()
    for key, value in release.items():
        assert config[key] == value, key


@pytest.mark.parametrize("field,value", [("heads", 5), ("max_positions", 256), ("dropout", 1.0), ("layers", 0)])
def test_bad_model_settings_name_the_field(field, value):
    with pytest.raises(InputError, match=f"model.{field}"):
        ModelSettings(**{**vars(TINY), field: value})
