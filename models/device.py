"""Where and how a model runs: device choice, threads and mixed precision.

``auto`` means the first CUDA device when one is present, else the CPU. On CUDA the forward
pass runs under autocast in bf16 when the card supports it (Ampere and newer) and fp16 otherwise;
weights stay in fp32 so the softmax and the explanations keep full precision where it matters.

On the CPU, bf16 autocast is used where the processor computes bf16 natively (AVX512-BF16 or
AMX): at a quiet moment on this project's 2-core machine `finsentry bench classify` measured the
worker at ~500-600 docs/s in bf16 against ~360 in fp32, with the same labels (an earlier fp32
default came from a measurement on a loaded machine). Elsewhere bf16 would be emulated, so fp32
is kept; ``cpu_bf16=False`` forces fp32.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Runtime:
    """A resolved device plus the autocast dtype to use on it (``None`` = full fp32)."""

    device: torch.device
    autocast_dtype: torch.dtype | None

    @property
    def description(self) -> str:
        dtype = str(self.autocast_dtype).removeprefix("torch.") if self.autocast_dtype else "fp32"
        if self.device.type == "cuda":
            name = torch.cuda.get_device_name(self.device)
            return f"{self.device} ({name}, {dtype})"
        return f"cpu ({torch.get_num_threads()} threads, {dtype})"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if self.autocast_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype):
            yield


def move_to(module: torch.nn.Module, device: torch.device) -> None:
    """Move a model's weights in place (typed as ``nn.Module`` for transformers' wrapped ``to``)."""
    module.to(device)


def resolve_device(spec: str) -> torch.device:
    """``auto`` → ``cuda`` if available else ``cpu``; ``cuda[:N]`` must exist."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r} requested but CUDA is not available")
        dev = torch.device(spec)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s)"
            )
        return dev
    raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, not {spec!r}")


def cpu_supports_bf16() -> bool:
    """True when oneDNN runs bf16 natively on this CPU (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch builds without oneDNN
        return False


def make_runtime(
    spec: str, *, torch_threads: int | None = None, cpu_bf16: bool | None = None
) -> Runtime:
    """Resolve ``spec`` and pick the precision. ``cpu_bf16=None`` = auto (native support)."""
    device = resolve_device(spec)
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return Runtime(device, dtype)
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    use_bf16 = cpu_supports_bf16() if cpu_bf16 is None else cpu_bf16
    return Runtime(device, torch.bfloat16 if use_bf16 else None)
