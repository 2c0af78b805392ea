"""``finsentry bench classify``: docs/s of the lexicon, a naive pipeline and the batched worker.

All three see the same texts in the same process. The naive baseline is what a first version
would do: one forward pass per message (batch of one) through the same model and tokenizer the
worker uses. The worker runs as configured (token-budget
batches, length bucketing, and bf16 autocast where the CPU or GPU supports it); a second worker
run forced to fp32 separates the gain of batching from the gain of precision, and the label
agreement of each worker with the naive pipeline is reported so a speed-up never hides a change
of answers.

This is a benchmark, not a test: its numbers depend on the machine and on whatever else runs.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from models.transformer import TransformerClassifier

TEST_SPLIT = Path(__file__).resolve().parent / "data" / "blind.csv"

_SUBJECTS = ["Acme Corp", "Globex", "Initech", "Umbrella plc", "$ACME", "Hooli", "Vandelay"]
_EVENTS = [
    "shares plunge after {s} issues profit warning",
    "{s} beats third-quarter estimates and raises full-year guidance",
    "{s} to present at investor conference on Tuesday",
    "{s} cut to Sell at Morgan Stanley; price target lowered to $42",
    "{s} quarterly loss narrowed to $3.1 million from $7.4 million a year earlier",
    "{s} names new chief financial officer effective March 1",
    "Regulators open probe into {s} accounting practices, sources say",
    "{s} completes acquisition of regional rival in all-cash deal valued at $1.2 billion",
]


def bench_texts(n: int, seed: int = 7) -> list[str]:
    """``n`` texts: the corpus test split when present, else generated headlines."""
    texts: list[str] = []
    if TEST_SPLIT.is_file():
        with TEST_SPLIT.open(encoding="utf-8", newline="") as fh:
            texts = [row["text"] for row in csv.DictReader(fh) if row.get("text")]
    if not texts:
        rng = random.Random(seed)
        texts = [rng.choice(_EVENTS).format(s=rng.choice(_SUBJECTS)) for _ in range(max(n, 64))]
    return [texts[i % len(texts)] for i in range(n)]


def _time(fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    started = time.perf_counter()
    labels = fn()
    return time.perf_counter() - started, labels


def _agreement(a: Sequence[str], b: Sequence[str]) -> float:
    return round(sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1), 4)


def run_classify_bench(
    worker: TransformerClassifier,
    n: int,
    *,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time the three classifiers on the same ``n`` texts; returns the JSON-ready summary."""

    from models.lexicon import LexiconClassifier

    texts = bench_texts(n)
    tokens = [
        len(b.inputs["attention_mask"][r].nonzero())
        for b in worker.preprocess(texts).batches
        for r in range(len(b.indices))
    ]
    results: list[dict[str, Any]] = []

    def record(name: str, seconds: float, labels: list[str], **extra: Any) -> None:
        rate = len(texts) / seconds if seconds > 0 else float("inf")
        results.append(
            {"name": name, "docs_per_s": round(rate, 1), "seconds": round(seconds, 3), **extra}
        )
        progress(f"{name}: {len(texts)} docs in {seconds:.2f} s = {rate:.1f} docs/s")

    lexicon = LexiconClassifier()
    lexicon.classify(texts[:8])
    secs, _ = _time(lambda: [p.label for p in lexicon.classify(texts)])
    record("lexicon", secs, [])

    def naive() -> list[str]:
        # one forward pass per text: what a loop over a model does without batching
        return [worker.classify([text])[0].label for text in texts]

    for text in texts[:8]:
        worker.classify([text])
    progress(f"naive_pipeline: one call per text on {worker.runtime.description} ...")
    secs, naive_labels = _time(naive)
    record("naive_pipeline", secs, naive_labels)

    def run_worker() -> list[str]:
        return [p.label for p in worker.classify(texts)]

    worker.classify(texts[:64])
    progress(f"worker: batches of <= {worker.max_batch_docs} docs on {worker.runtime.description}")
    secs, labels = _time(run_worker)
    record(
        "worker",
        secs,
        labels,
        agreement_with_naive=_agreement(labels, naive_labels),
        precision=_precision(worker),
    )

    if worker.runtime.autocast_dtype is not None:
        saved = worker.runtime
        worker.runtime = type(saved)(saved.device, None)
        try:
            worker.classify(texts[:64])
            secs, labels = _time(run_worker)
            record(
                "worker_fp32",
                secs,
                labels,
                agreement_with_naive=_agreement(labels, naive_labels),
                precision="fp32",
            )
        finally:
            worker.runtime = saved

    return {
        "results": results,
        "device": worker.runtime.description,
        "batch_size": worker.max_batch_docs,
        "batch_tokens": worker.batch_tokens,
        "mean_tokens_per_doc": round(sum(tokens) / len(tokens), 1),
        "n_docs": len(texts),
        "model_version": worker.version,
        "torch_threads": torch.get_num_threads(),
        "speedup_worker_vs_naive": _ratio(results, "worker", "naive_pipeline"),
    }


def _precision(worker: TransformerClassifier) -> str:
    dtype = worker.runtime.autocast_dtype
    return str(dtype).removeprefix("torch.") if dtype is not None else "fp32"


def _ratio(results: list[dict[str, Any]], a: str, b: str) -> float | None:
    rates = {r["name"]: r["docs_per_s"] for r in results}
    if a in rates and b in rates and rates[b]:
        return round(rates[a] / rates[b], 2)
    return None
