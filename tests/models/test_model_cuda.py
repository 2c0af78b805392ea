"""The GPU worker: autocast on CUDA gives the CPU answers. Runs only where CUDA is present."""

from __future__ import annotations

from pathlib import Path

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
    for a, b in zip(cpu.classify(texts), gpu.classify(texts), strict=True):
        assert a.p_negative == pytest.approx(b.p_negative, abs=3e-2)
    (explained,) = gpu.classify(texts[:1], explain=True)
    assert explained.explanation is not None


@pytest.mark.cuda
@needs_cuda
def test_auto_device_prefers_cuda() -> None:
    assert make_runtime("auto").device.type == "cuda"
