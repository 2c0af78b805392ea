"""Held-out metrics for any classifier: accuracy, macro-F1, per-class P/R/F1, confusion matrix.

Macro-F1 is the headline number because news is mostly neutral: a model that calls everything
neutral scores a high accuracy and a poor macro-F1. The same dictionary is printed by
``finsentry eval``, written to ``metrics.json`` by ``finsentry train`` and quoted in the model
card, so the three never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from models.base import LABELS, Classifier
from models.datasets import Example


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, Any]:
    """Metrics over LABELS; the confusion matrix is ``matrix[true][predicted]``."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[index[t]][index[p]] += 1
    n = len(y_true)
    per_class: dict[str, dict[str, float]] = {}
    for i, label in enumerate(LABELS):
        tp = matrix[i][i]
        predicted = sum(matrix[r][i] for r in range(len(LABELS)))
        actual = sum(matrix[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": actual,
        }
    correct = sum(matrix[i][i] for i in range(len(LABELS)))
    return {
        "n": n,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "macro_f1": round(sum(c["f1"] for c in per_class.values()) / len(LABELS), 4),
        "f1": {label: per_class[label]["f1"] for label in LABELS},
        "per_class": per_class,
        "confusion_matrix": {"labels": list(LABELS), "rows": "true", "matrix": matrix},
    }


def evaluate(
    classifier: Classifier, examples: Sequence[Example], *, chunk: int = 512
) -> dict[str, Any]:
    """Classify ``examples`` and score them; adds the model's name/version and docs/s."""
    started = time.perf_counter()
    predicted: list[str] = []
    for i in range(0, len(examples), chunk):
        texts = [e.text for e in examples[i : i + chunk]]
        predicted.extend(p.label for p in classifier.classify(texts))
    elapsed = time.perf_counter() - started
    metrics = compute_metrics([e.label for e in examples], predicted)
    metrics["model"] = {"name": classifier.name, "version": classifier.version}
    runtime = getattr(classifier, "runtime", None)  # the transformer worker says where it ran
    if runtime is not None:
        metrics["model"]["runtime"] = runtime.description
    metrics["seconds"] = round(elapsed, 2)
    return metrics
