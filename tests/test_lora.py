"""LoRA fine-tuning through peft: frozen encoder, saved adapter, merged plain model, resume (tiny, CPU)."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import BertForSequenceClassification

import dnabert.lm.finetune.loop as finetune_loop
from dnabert.io import InputError
from dnabert.lm.checkpointing import Preempted
from dnabert.lm.evaluation import read_split
from dnabert.lm.finetune import FinetuneSettings, LoraSettings, RunOutputs, finetune
from dnabert.lm.inference import load_classifier, predict_sequences
from dnabert.lm.models import ModelSettings, new_model, save_model
from test_finetune import K, TINY, tiny_settings, write_task

LORA = {"r": 4, "alpha": 8, "dropout": 0.1, "target_modules": ["query", "value"]}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> Path:
    return save_model(new_model(K, ModelSettings(**TINY), seed=5), tmp_path_factory.mktemp("enc") / "pretrained", K)


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> dict[str, Path]:
    return write_task(tmp_path_factory.mktemp("task"))


def lora_run(task, encoder, out: Path) -> dict:
    settings = tiny_settings(init="pretrained", lora=LORA, lr=5e-3)
    return finetune(settings, task, RunOutputs.under(out), k=K, seed=3, model_dir=encoder, device="cpu", threads=1,
                    progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def lora_out(task, encoder, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("lora")
    return out, lora_run(task, encoder, out)


def test_lora_trains_adapters_pooler_and_head_only(lora_out, encoder):
    out, result = lora_out
    training = result["training"]
    assert training["lora"] and training["trainable_parameters"] < training["parameters"] / 2
    assert result["settings"]["lora"] == LORA
    merged = load_file(str(out / "model" / "model.safetensors"))
    base = load_file(str(Path(encoder) / "model.safetensors"))
    assert not any("lora" in key or "base_layer" in key or "modules_to_save" in key for key in merged)
    frozen = ("attention.self.key.weight", "attention.output.dense.weight", "intermediate.dense.weight")
    for name in ("bert.embeddings.word_embeddings.weight", *(f"bert.encoder.layer.0.{n}" for n in frozen)):
        assert torch.equal(merged[name], base[name]), name  # the encoder stayed frozen ...
    for name in ("attention.self.query.weight", "attention.self.value.weight"):
        key = f"bert.encoder.layer.0.{name}"
        assert not torch.equal(merged[key], base[key]), key  # ... but for the merged low-rank updates
        assert torch.linalg.matrix_rank(merged[key] - base[key]) <= LORA["r"]


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # peft
def test_adapter_is_saved_and_the_merged_model_is_a_plain_classifier(lora_out, encoder, task):
    out, _ = lora_out
    assert sorted(p.name for p in (out / "adapter").iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["base_model_name_or_path"] == str(encoder)
    assert not (out / "model" / "adapter_config.json").exists()
    # the merged model as every later step loads it, with plain transformers
    plain = BertForSequenceClassification.from_pretrained(out / "model").eval()
    model, k = load_classifier(out / "model", torch.device("cpu"))
    split = read_split(task["test"])
    probs, _ = predict_sequences(model, split.sequences, k, device=torch.device("cpu"))
    with open(out / "predictions.tsv") as handle:
        written = np.array([[float(r["prob_0"]), float(r["prob_1"])] for r in csv.DictReader(handle, delimiter="\t")])
    np.testing.assert_allclose(probs, written, rtol=1e-5, atol=1e-6)
    assert type(plain) is BertForSequenceClassification
    # the adapter on the encoder it was trained from gives the same predictions
    from peft import PeftModel

    base = BertForSequenceClassification.from_pretrained(encoder, num_labels=2)
    adapted = PeftModel.from_pretrained(base, out / "adapter").eval()
    again, _ = predict_sequences(adapted, split.sequences, k, device=torch.device("cpu"))
    np.testing.assert_allclose(again, probs, atol=1e-5)


def test_lora_resumes_to_identical_outputs(task, encoder, lora_out, tmp_path, monkeypatch):
    original = finetune_loop.train_step

    def step_then_sigterm(run, state, batch):
        result = original(run, state, batch)
        if state.step == 8:
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(finetune_loop, "train_step", step_then_sigterm)
    with pytest.raises(Preempted):
        lora_run(task, encoder, tmp_path)
    monkeypatch.undo()
    lora_run(task, encoder, tmp_path)
    for name in ("metrics.json", "predictions.tsv", "model/model.safetensors", "adapter/adapter_model.safetensors"):
        assert (tmp_path / name).read_bytes() == (lora_out[0] / name).read_bytes(), name


def test_full_fine_tuning_after_lora_removes_the_stale_adapter(task, tmp_path):
    lora = tiny_settings(lora={"r": 2}, epochs=1)
    finetune(lora, task, RunOutputs.under(tmp_path), k=K, seed=1, device="cpu", threads=1, progress=False)
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    finetune(tiny_settings(epochs=1), task, RunOutputs.under(tmp_path), k=K, seed=1, device="cpu", threads=1,
             progress=False)  # fmt: skip
    assert not (tmp_path / "adapter").exists()


@pytest.mark.parametrize(
    "lora, field",
    [({"r": 0}, "finetune.lora.r"), ({"rank": 4}, "finetune.lora"), ({"dropout": 1.0}, "finetune.lora.dropout"),
     ({"target_modules": []}, "finetune.lora.target_modules"), ("yes", "finetune.lora")],
)  # fmt: skip
def test_bad_lora_settings_name_the_field(lora, field):
    with pytest.raises(InputError, match=f"field '{field}'"):
        FinetuneSettings.from_config({"lora": lora})


def test_unknown_target_modules_are_named(task, tmp_path):
    settings = tiny_settings(lora={"target_modules": ["query", "q_proj"]})
    with pytest.raises(InputError, match=r"field 'finetune.lora.target_modules': no linear layers named q_proj"):
        finetune(settings, task, RunOutputs.under(tmp_path), k=K, seed=1, device="cpu", threads=1, progress=False)
    assert LoraSettings.from_config(None) is None and FinetuneSettings.from_config({}).lora is None


def test_lora_config_section_is_validated():
    import copy

    import yaml

    from conftest import REPO
    from dnabert.config.finetune import task_settings
    from dnabert.config.validation import ConfigError, validate_config

    schema = REPO / "config" / "schema" / "config.schema.yaml"
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    good = copy.deepcopy(config)
    good["finetune"]["lora"] = {"r": 16, "target_modules": ["query", "key", "value"]}
    good["finetune"]["tasks"]["prom300"]["lora"] = None  # a task can opt out
    validate_config(good, schema)
    ctcf = FinetuneSettings.from_config(task_settings(good, "ctcf"))
    assert ctcf.lora == LoraSettings(r=16, target_modules=("query", "key", "value"))
    assert FinetuneSettings.from_config(task_settings(good, "prom300")).lora is None
    assert FinetuneSettings.from_config(task_settings(config, "ctcf")).lora is None  # the demo: full fine-tuning
    bad = copy.deepcopy(config)
    bad["finetune"]["lora"] = {"r": 0, "rank": 4}
    with pytest.raises(ConfigError) as caught:
        validate_config(bad, schema)
    text = "\n".join(caught.value.problems)
    assert "finetune.lora" in text and "rank" in text and "r" in text
