"""CUDA checks (``pytest -m gpu``; skipped without a GPU): bf16/fp16 steps, SDPA and packed attention on CUDA,
NCCL DDP with one process, checkpoint/resume on the GPU, pinned prefetching. bench/gpu_check.py runs them."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import pytest
import torch
import torch.distributed as dist

from dnabert.lm.loading import Prefetcher
from dnabert.lm.masking import seeded_generator
from dnabert.lm.models import new_model
from dnabert.lm.packing import flash_available
from dnabert.lm.pretrain.batches import BatchPlan, make_micro_batch
from dnabert.lm.pretrain.objective import MaskedLMObjective
from dnabert.lm.pretrain.pieces import PieceStore, split_pieces
from dnabert.lm.pretrain.pipeline import train
from dnabert.lm.pretrain.settings import Outputs
from dnabert.lm.training import precision_for
from test_pretrain import DEV, SETTINGS, Crash, _weights, build_tiny_corpus

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

CUDA = torch.device("cuda", 0)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_tiny_corpus(tmp_path_factory.mktemp("corpus"))


def _native_bf16() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def _batches(corpus, packed: bool, count: int = 4):
    store = PieceStore(corpus)
    train_ids, _, _ = split_pieces(store, DEV, eval_pieces=5, seed=1)
    plan = BatchPlan(train_ids, store.lengths[train_ids], 2048, seed=2)
    return [make_micro_batch(store, plan.at(i), 6, 0.15, seeded_generator(1, i), packed=packed).pin_memory().to(CUDA)
            for i in range(count)]  # fmt: skip


def test_auto_precision_fits_this_gpu():
    chosen = precision_for(CUDA, "auto")
    assert chosen.name == ("bf16" if _native_bf16() else "fp16") and chosen.scaled == (chosen.name == "fp16")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_pretraining_on_cuda(corpus, tmp_path, precision):
    if precision == "bf16" and not _native_bf16():
        pytest.skip("this GPU has no native bf16")
    metrics = train(replace(SETTINGS, steps=6, precision=precision), corpus, Outputs.under(tmp_path), DEV,
                    device="cuda", progress=False)  # fmt: skip
    assert metrics["precision"] == precision and metrics["device"] == "cuda"
    assert 0 < metrics["eval"]["loss"] < 20 and metrics["train"]["last_logged"]["loss"] < 20
    extra = torch.load(tmp_path / "checkpoints" / "step_00000006" / "training.pt", weights_only=True)
    assert ("scaler" in extra) == (precision == "fp16")


@pytest.mark.parametrize("backend", ["runs", "jagged", "flash"])
def test_packed_attention_on_cuda_matches_padded_sdpa(corpus, backend):
    """fp32: packed equals padded (HF SDPA) to 1e-4; under autocast to half-precision rounding."""
    if backend == "flash" and not flash_available():
        pytest.skip("flash-attn is not installed")
    model = new_model(6, replace(SETTINGS.model, layers=2), seed=3).to(CUDA).eval()
    objective = MaskedLMObjective(model, attention_backend=backend)
    half = precision_for(CUDA, "auto")
    for padded, packed in zip(_batches(corpus, False), _batches(corpus, True)):
        for precision, tolerance in ((None, 1e-4), (half, 2e-2)):
            if precision is None and backend == "flash":
                continue  # flash-attn computes in fp16/bf16 only
            context = precision.autocast() if precision else torch.autocast("cuda", enabled=False)
            with torch.no_grad(), context:
                loss_a, _ = objective(padded.input_ids, padded.attention_mask, padded.positions, padded.targets)
                loss_b, _ = objective(packed.input_ids, None, packed.positions, packed.targets, packed.layout)
            torch.testing.assert_close(loss_b, loss_a, rtol=tolerance, atol=0)


def test_nccl_ddp_with_one_process_matches_the_plain_step(corpus):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        batch = _batches(corpus, False, 1)[0]
        gradients = []
        for wrap in (False, True):
            model = new_model(6, replace(SETTINGS.model, dropout=0.0, attention_dropout=0.0), seed=3).to(CUDA)
            engine = MaskedLMObjective(model)
            if wrap:
                engine = torch.nn.parallel.DistributedDataParallel(engine, device_ids=[0])
            loss, _ = engine(batch.input_ids, batch.attention_mask, batch.positions, batch.targets)
            loss.backward()
            gradients.append({name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None})
        total = torch.ones((), device=CUDA)
        dist.all_reduce(total)
        assert total.item() == 1.0
    finally:
        dist.destroy_process_group()
    for name, grad in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_checkpoint_resume_on_gpu(corpus, tmp_path):
    """Crash after step 5, resume from the step-3 checkpoint: the uninterrupted run's steps, tokens and weights."""
    settings = replace(SETTINGS, precision="fp32")
    full = train(settings, corpus, Outputs.under(tmp_path / "full"), DEV, device="cuda", progress=False)
    outputs = Outputs.under(tmp_path / "resumed")

    def crash(step: int) -> None:
        if step == 5:
            raise Crash()

    with pytest.raises(Crash):
        train(settings, corpus, outputs, DEV, device="cuda", progress=False, on_step=crash)
    resumed = train(settings, corpus, outputs, DEV, device="cuda", progress=False)
    assert resumed["resumed_from_step"] == 3 and resumed["steps"] == full["steps"] == 8
    assert resumed["tokens"] == full["tokens"]
    reference, weights = _weights(tmp_path / "full" / "model"), _weights(outputs.model)
    for key in reference:  # CUDA's atomic adds (embedding backward) are not bit-reproducible
        torch.testing.assert_close(weights[key], reference[key], rtol=1e-3, atol=1e-4, msg=key)
    assert json.loads(outputs.metrics.read_text())["device"] == "cuda"


def test_prefetched_batches_are_pinned_for_cuda(corpus):
    store = PieceStore(corpus)
    train_ids = split_pieces(store, DEV, eval_pieces=5, seed=1)[0]
    plan = BatchPlan(train_ids, store.lengths[train_ids], 1024, seed=2)

    def build(position):
        return [make_micro_batch(store, plan.at(position), 6, 0.15, seeded_generator(1, position), packed=True)]

    with Prefetcher(range(3), build, depth=2, device=CUDA) as feed:
        for step in feed:
            batch = step[0]
            assert batch.input_ids.is_pinned() and batch.layout.position_ids.is_pinned()
            assert batch.to(CUDA).input_ids.device.type == "cuda"
