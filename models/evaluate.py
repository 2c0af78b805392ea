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


def calibration_error(
    probs: Sequence[tuple[float, float, float]], labels: Sequence[int], bins: int = 15
) -> float:
    """Top-label expected calibration error with equal-width confidence bins."""
    if not probs:
        return 0.0
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, confidence sum, correct sum
    for p, y in zip(probs, labels, strict=True):
        conf = max(p)
        b = min(int(conf * bins), bins - 1)
        totals[b][0] += 1
        totals[b][1] += conf
        totals[b][2] += float(p.index(conf) == y)
    n = len(probs)
    return sum(abs(c - k) for _, c, k in totals) / n if n else 0.0


def evaluate(
    classifier: Classifier, examples: Sequence[Example], *, chunk: int = 512
) -> dict[str, Any]:
    """Classify ``examples`` and score them; adds the model's name/version and docs/s."""
    started = time.perf_counter()
    preds = []
    for i in range(0, len(examples), chunk):
        texts = [e.text for e in examples[i : i + chunk]]
        preds.extend(classifier.classify(texts))
    elapsed = time.perf_counter() - started
    predicted = [p.label for p in preds]
    metrics = compute_metrics([e.label for e in examples], predicted)
    metrics["ece"] = round(
        calibration_error(
            [(p.p_negative, p.p_neutral, p.p_positive) for p in preds],
            [e.label_id for e in examples],
        ),
        4,
    )
    groups = sorted({e.group for e in examples if e.group})
    if groups:
        metrics["by_register"] = {}
        for g in groups:
            idx = [i for i, e in enumerate(examples) if e.group == g]
            m = compute_metrics([examples[i].label for i in idx], [predicted[i] for i in idx])
            metrics["by_register"][g] = {
                "n": m["n"],
                "macro_f1": m["macro_f1"],
                "accuracy": m["accuracy"],
                "f1": m["f1"],
                "confusion_matrix": m["confusion_matrix"]["matrix"],
            }
    metrics["model"] = {"name": classifier.name, "version": classifier.version}
    runtime = getattr(classifier, "runtime", None)  # the transformer worker says where it ran
    if runtime is not None:
        metrics["model"]["runtime"] = runtime.description
    metrics["seconds"] = round(elapsed, 2)
    return metrics
