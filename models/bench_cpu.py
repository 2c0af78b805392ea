"""CPU inference options for the default model, and what eager explanations would cost.

Measures, on the same 1,000 blind-set texts in one process: the shipped worker (torch, bf16
autocast where the CPU has it), torch fp32, torch int8 dynamic quantisation of every
``nn.Linear``, and ONNX Runtime (TorchScript export, fp32 and int8 dynamic quantisation per
tensor and per channel); docs/s (best of two runs) and the blind-set macro-F1 of each. Because
single runs on a shared 2-core machine move by ±15 %, the fastest alternative is then timed
*interleaved* with the default. Finally the hot-path cost of explaining every negative article
(eager) against classifying only (lazy). ``docs/measurements/cpu_inference.json`` holds a run;
``docs/performance.md`` reads it. The decision rule: adopt an option as the CPU default only if
it is faster and loses at most 0.5 macro-F1 point.

Run: ``finsentry bench cpu`` or ``python -m models.bench_cpu [--out FILE]`` (needs the
``dev`` extra for onnx/onnxruntime; without them the ONNX rows record the import error).
This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.bench import bench_texts
from models.config import ModelSettings
from models.datasets import load_many
from models.device import Runtime
from models.evaluate import evaluate
from models.pooled import Output
from models.registry import DEFAULT_MODEL_DIR
from models.transformer import TransformerClassifier

BLIND = Path(__file__).resolve().parent / "data" / "blind.csv"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _worker(cpu_bf16: bool | None) -> TransformerClassifier:
    settings = ModelSettings(device="cpu", torch_threads=2)
    return TransformerClassifier.from_folder(DEFAULT_MODEL_DIR, settings, cpu_bf16=cpu_bf16)


def _rate(clf: TransformerClassifier, texts: Sequence[str], reps: int = 2) -> float:
    clf.classify(texts[:64])
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        clf.classify(texts)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


class _Export(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.model(**dict(zip(INPUTS, inputs, strict=True)))
        return out.logits, out.embedding


class _OrtModel:
    """An ONNX Runtime session behind the worker's ``model(**inputs)`` call."""

    def __init__(self, session: Any, config: Any) -> None:
        self.session = session
        self.config = config

    def eval(self) -> _OrtModel:
        return self

    def to(self, *_: object, **__: object) -> _OrtModel:
        return self

    def __call__(self, **inputs: torch.Tensor) -> Output:
        feeds = {k: v.numpy() for k, v in inputs.items()}
        feeds.setdefault("token_type_ids", np.zeros_like(feeds["input_ids"]))
        logits, emb = self.session.run(None, feeds)
        return Output(logits=torch.from_numpy(logits), embedding=torch.from_numpy(emb))


def onnx_worker(quant: str | None, folder: Path) -> tuple[TransformerClassifier, float]:
    """The default model exported to ONNX (``quant``: None, ``per_tensor``, ``per_channel``)
    and run by ONNX Runtime with 2 threads; returns the worker and the model file's MiB."""
    import onnxruntime as ort

    worker = _worker(cpu_bf16=False)
    path = folder / "model.onnx"
    ids = torch.ones((2, 16), dtype=torch.long)
    axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS}
    torch.onnx.export(
        _Export(worker.model).eval(),
        (ids, ids, torch.zeros_like(ids)),
        str(path),
        input_names=list(INPUTS),
        output_names=["logits", "embedding"],
        dynamic_axes={**axes, "logits": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    if quant is not None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        qpath = folder / f"model.{quant}.onnx"
        quantize_dynamic(
            str(path), str(qpath), weight_type=QuantType.QInt8, per_channel=quant == "per_channel"
        )
        path = qpath
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 2, 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    worker.model = _OrtModel(session, worker.model.config)
    worker.runtime = Runtime(torch.device("cpu"), None)
    return worker, os.path.getsize(path) / 2**20


def run(n: int = 1000) -> dict[str, Any]:
    torch.set_num_threads(2)
    texts = bench_texts(n)
    blind = load_many([BLIND])
    variants: dict[str, dict[str, Any]] = {}
    workers: dict[str, TransformerClassifier] = {}

    def record(name: str, clf: TransformerClassifier, **extra: Any) -> None:
        workers[name] = clf
        variants[name] = {
            "docs_per_s": round(_rate(clf, texts), 1),
            "blind_macro_f1": round(float(evaluate(clf, blind)["macro_f1"]), 4),
            **extra,
        }
        print(name, variants[name], flush=True)

    default = _worker(cpu_bf16=None)
    record("torch_default", default, runtime=default.runtime.description)
    record("torch_fp32", _worker(cpu_bf16=False))
    q = _worker(cpu_bf16=False)
    q.model = torch.ao.quantization.quantize_dynamic(q.model, {nn.Linear}, dtype=torch.qint8)
    q.runtime = Runtime(torch.device("cpu"), None)
    record("torch_int8_dynamic", q)
    with tempfile.TemporaryDirectory() as tmp:
        for quant in (None, "per_tensor", "per_channel"):
            name = (
                f"onnxruntime_{quant or 'fp32'}" if quant is None else f"onnxruntime_int8_{quant}"
            )
            try:
                clf, mib = onnx_worker(quant, Path(tmp))
            except Exception as exc:
                variants[name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
                continue
            record(name, clf, model_mib=round(mib, 1))
    base = variants["torch_default"]
    for v in variants.values():
        if "docs_per_s" in v:
            v["speedup_vs_default"] = round(v["docs_per_s"] / base["docs_per_s"], 3)
            v["macro_f1_delta_points"] = round(
                100 * (v["blind_macro_f1"] - base["blind_macro_f1"]), 2
            )
    eligible = [
        k
        for k, v in variants.items()
        if k != "torch_default" and v.get("macro_f1_delta_points", -9) >= -0.5
    ]
    fastest = max(eligible, key=lambda k: variants[k]["docs_per_s"], default=None)
    interleaved: dict[str, Any] = {}
    if fastest is not None:
        rates: dict[str, list[float]] = {"torch_default": [], fastest: []}
        for _ in range(4):
            for name in rates:
                start = time.perf_counter()
                workers[name].classify(texts)
                rates[name].append(round(n / (time.perf_counter() - start), 1))
        ratio = float(np.median(rates[fastest]) / np.median(rates["torch_default"]))
        interleaved = {"docs_per_s": rates, "median_speedup": round(ratio, 3)}
    start = time.perf_counter()
    preds = default.classify(texts)
    t_cls = time.perf_counter() - start
    neg = [texts[i] for i, p in enumerate(preds) if p.label == "negative"]
    start = time.perf_counter()
    default.classify(neg, explain=True)
    t_exp = time.perf_counter() - start
    start = time.perf_counter()
    default.classify(neg[:5], explain=True)
    t_five = time.perf_counter() - start
    return {
        "n_docs": n,
        "model_version": default.version,
        "variants": variants,
        "interleaved_check": interleaved,
        "explanations": {
            "n_negative": len(neg),
            "classify_s": round(t_cls, 3),
            "explain_negatives_s": round(t_exp, 3),
            "eager_docs_per_s": round(n / (t_cls + t_exp), 1),
            "lazy_docs_per_s": round(n / t_cls, 1),
            "eager_overhead_pct": round(100 * t_exp / t_cls, 1),
            "lazy_cost_per_shown_article_ms": round(1000 * t_five / max(len(neg[:5]), 1), 1),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", default=None, help="write the JSON here too")
    args = ap.parse_args(argv)
    result = run(args.n)
    text = json.dumps(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
