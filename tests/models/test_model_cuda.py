"""The GPU worker: autocast on CUDA gives the CPU answers (labels, probabilities and the
embedding the topic head reads), batches are staged in pinned memory for non-blocking copies.
Runs only where CUDA is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from models.config import ModelSettings
from models.device import make_runtime
from models.transformer import TransformerClassifier

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@pytest.mark.cuda
@needs_cuda
def test_cuda_worker_matches_cpu(tiny_adapter: Path) -> None:
    texts = ["Acme shares plunge after profit warning", "Initech beats estimates"] * 40
    cpu = TransformerClassifier.from_folder(
        tiny_adapter, ModelSettings(device="cpu"), cpu_bf16=False
    )
    gpu = TransformerClassifier.from_folder(tiny_adapter, ModelSettings(device="cuda"))
    assert gpu.runtime.device.type == "cuda"
    assert gpu.runtime.autocast_dtype in (torch.bfloat16, torch.float16)
    prepared = gpu.preprocess(texts)
    assert all(b.inputs["input_ids"].is_pinned() for b in prepared.batches)
    assert not cpu.preprocess(texts).batches[0].inputs["input_ids"].is_pinned()
    for a, b in zip(cpu.classify(texts), gpu.classify_prepared(prepared), strict=True):
        assert a.p_negative == pytest.approx(b.p_negative, abs=3e-2)
        assert a.embedding is not None and b.embedding is not None
        cos = float(a.embedding @ b.embedding) / float(
            np.linalg.norm(a.embedding) * np.linalg.norm(b.embedding)
        )
        assert cos > 0.99
    (explained,) = gpu.classify(texts[:1], explain=True)
    assert explained.explanation is not None


@pytest.mark.cuda
@needs_cuda
def test_auto_device_prefers_cuda() -> None:
    assert make_runtime("auto").device.type == "cuda"
