"""What pretraining and fine-tuning share: precision selection (faked devices), bf16/fp16 steps on CPU, prefetching."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
import torch

from dnabert.io import InputError
from dnabert.lm.loading import Prefetcher, pin_memory
from dnabert.lm.models import ModelSettings, new_model
from dnabert.lm.pretrain.objective import MaskedLMObjective
from dnabert.lm.training import DeviceCapabilities, device_capabilities, precision_for, select_precision

H100 = DeviceCapabilities("cuda", "NVIDIA H100 80GB HBM3", bf16=True)
V100 = DeviceCapabilities("cuda", "Tesla V100-SXM2-32GB", bf16=False)
CPU = DeviceCapabilities("cpu", "cpu", bf16=True)  # AVX512-BF16 or AMX
OLD_CPU = DeviceCapabilities("cpu", "cpu", bf16=False)  # bf16 emulated


# --------------------------------------------------------------------------- precision


@pytest.mark.parametrize(
    ("device", "requested", "chosen", "scaled"),
    [
        (H100, "auto", "bf16", False),
        (V100, "auto", "fp16", True),
        (CPU, "auto", "fp32", False),
        (H100, "fp16", "fp16", True),
        (H100, "fp32", "fp32", False),
        (V100, "fp32", "fp32", False),
        (CPU, "bf16", "bf16", False),
        (CPU, "fp16", "fp16", True),
    ],
)
def test_precision_fits_the_device(device, requested, chosen, scaled):
    precision = select_precision(requested, device)
    assert precision.name == chosen and precision.scaled == scaled and precision.device_type == device.type
    if device.type == "cpu":  # torch disables a CUDA scaler without CUDA
        assert precision.grad_scaler().is_enabled() == scaled
    assert precision.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[chosen]


@pytest.mark.parametrize(
    ("device", "chosen"), [(CPU, "bf16"), (OLD_CPU, "fp32"), (H100, "bf16"), (V100, "fp16")]
)
def test_auto_for_training_uses_native_bf16_of_a_cpu_too(device, chosen):
    """Training on a CPU with bf16 instructions autocasts to bf16; inference on a CPU stays fp32."""
    assert select_precision("auto", device, training=True).name == chosen
    if device.type == "cpu":
        assert select_precision("auto", device).name == "fp32"


def test_cpu_native_bf16_is_what_torch_reports(monkeypatch):
    for avx512_bf16, amx in ((False, False), (True, False), (False, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v)
        assert device_capabilities(torch.device("cpu")).bf16 == (avx512_bf16 or amx)
        assert precision_for(torch.device("cpu"), training=True).name == ("bf16" if avx512_bf16 or amx else "fp32")


def test_bf16_on_a_gpu_without_it_is_a_clear_error():
    with pytest.raises(InputError, match=r"finetune.precision.*V100.*has none: use fp16"):
        select_precision("bf16", V100, field="finetune.precision")
    with pytest.raises(InputError, match="must be one of auto, bf16, fp16, fp32"):
        select_precision("half", H100)


def test_device_capabilities_ask_torch_for_native_bf16(monkeypatch):
    """On a (faked) CUDA device: the card's name and bf16 without emulation (a V100 emulates it)."""
    asked = {}

    def is_bf16_supported(including_emulation=True):
        asked["emulation"] = including_emulation
        return False

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "Tesla V100-SXM2-32GB")
    monkeypatch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())
    capabilities = device_capabilities(torch.device("cuda", 1))
    assert capabilities == V100 and asked == {"emulation": False}
    assert select_precision("auto", capabilities).name == "fp16"
    assert precision_for(torch.device("cpu")).name == "fp32"


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_mixed_precision_step_on_cpu(name):
    """A forward/backward/step under CPU autocast: the encoder computes in the half type, the loss stays fp32."""
    precision = select_precision(name, CPU)
    model = new_model(6, ModelSettings(layers=1, hidden=32, heads=2, intermediate=64), seed=1)
    objective = MaskedLMObjective(model)
    seen = []
    model.bert.encoder.layer[0].intermediate.dense.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = precision.grad_scaler()
    ids = torch.randint(5, 4101, (2, 16))
    positions, targets = torch.tensor([3, 20]), ids.reshape(-1)[torch.tensor([3, 20])]
    before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    for _ in range(30):  # fp16: a step whose scaled gradients overflow is skipped and the scale halved
        with precision.autocast():
            loss, _ = objective(ids, None, positions, targets)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        if not torch.equal(before, model.bert.embeddings.word_embeddings.weight):
            break
    assert seen[0] == precision.dtype and loss.dtype == torch.float32 and torch.isfinite(loss)
    assert not torch.equal(before, model.bert.embeddings.word_embeddings.weight)
    if name == "fp16":
        assert scaler.get_scale() < 65536.0  # the initial scale overflowed and was lowered
    else:
        assert len(seen) == 1  # bf16 needs no scale: the first step is taken


# --------------------------------------------------------------------------- prefetching


def test_prefetcher_keeps_order_runs_ahead_and_stops():
    built = []

    def build(job):
        built.append(job)
        return job * 10

    with Prefetcher(range(100), build, depth=2) as feed:
        assert [next(feed) for _ in range(3)] == [0, 10, 20]
        time.sleep(0.3)
        assert 4 <= len(built) <= 6  # at most depth batches waiting, plus the one being built
    time.sleep(0.2)
    assert len(built) <= 6 and not any(t.name == "prefetch" for t in threading.enumerate())
    assert list(Prefetcher(range(5), build, depth=0)) == [0, 10, 20, 30, 40]


def test_prefetcher_raises_the_builders_error_at_its_batch():
    def build(job):
        if job == 3:
            raise ValueError("bad piece 3")
        return job

    feed = Prefetcher(range(10), build, depth=2)
    assert [next(feed) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad piece 3"):
        next(feed)
    with pytest.raises(StopIteration):
        next(feed)


def test_pin_memory_walks_lists_and_tuples():
    class Pinned:
        def pin_memory(self):
            return "pinned"

    assert pin_memory([Pinned(), (Pinned(), 3)]) == ["pinned", ("pinned", 3)]
