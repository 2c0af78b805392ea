"""The full held-out report of a trained model: what ``metrics.json`` and the model card quote.

One call scores the model on the held-out file (the blind set by default) as the daemon runs
it, adds the calibration error without the fitted temperature (so "before / after" is measured
on the same held-out rows), the per-register metrics, the model's most confident mistakes as
examples of its failure kinds, and — when the legacy frame corpus's test split is present — the
old, easier check. Nothing here chooses anything: the recipe was chosen on validation.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from models.base import LABELS
from models.datasets import Example, load_many
from models.evaluate import calibration_error, evaluate

MODELS_DIR = Path(__file__).resolve().parent
LEGACY_TEST = MODELS_DIR / "data" / "legacy" / "test.csv"
CORPUS_STATS = MODELS_DIR / "data" / "corpus_stats.json"


def mistakes(
    clf: Any, examples: list[Example], per_kind: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """The most confident wrong predictions, grouped ``true→predicted``."""
    preds = clf.classify([e.text for e in examples])
    by_kind: dict[str, list[tuple[float, Example, Any]]] = defaultdict(list)
    for e, p in zip(examples, preds, strict=True):
        if p.label != e.label:
            conf = max(p.p_negative, p.p_neutral, p.p_positive)
            by_kind[f"{e.label}→{p.label}"].append((conf, e, p))
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in sorted(by_kind.items()):
        rows.sort(key=lambda r: -r[0])
        out[kind] = [
            {"text": e.text, "register": e.group, "confidence": round(conf, 3)}
            for conf, e, _ in rows[:per_kind]
        ]
    return out


def uncalibrated_ece(clf: Any, examples: list[Example]) -> float | None:
    """ECE of the same model with its temperature set to 1 (labels unchanged)."""
    model = clf.model
    if not hasattr(model, "set_calibration"):
        return None
    t = float(model.temperature)
    bias = tuple(float(b) for b in model.logit_bias.tolist())
    model.set_calibration(1.0, bias)
    try:
        preds = clf.classify([e.text for e in examples])
    finally:
        model.set_calibration(t, bias)
    return round(
        calibration_error(
            [(p.p_negative, p.p_neutral, p.p_positive) for p in preds],
            [e.label_id for e in examples],
        ),
        4,
    )


def held_out_report(clf: Any, examples: list[Example], source: str) -> dict[str, Any]:
    metrics = evaluate(clf, examples)
    metrics["eval_data"] = source
    metrics["ece_uncalibrated"] = uncalibrated_ece(clf, examples)
    metrics["failures"] = mistakes(clf, examples)
    if LEGACY_TEST.is_file():
        legacy = evaluate(clf, load_many([LEGACY_TEST]))
        metrics["legacy_test"] = {
            k: legacy[k] for k in ("n", "accuracy", "macro_f1", "f1", "ece")
        } | {"data": "models/data/legacy/test.csv"}
    if CORPUS_STATS.is_file():
        metrics["corpus"] = json.loads(CORPUS_STATS.read_text(encoding="utf-8"))
    return metrics


def labels_line(counts: dict[str, int]) -> str:
    return " / ".join(str(counts.get(label, 0)) for label in LABELS)


def refresh(folder: Path, eval_path: Path) -> dict[str, Any]:
    """Re-score a trained folder and rewrite its ``metrics.json`` and model card (keeps the
    training summary): ``python -m models.report FOLDER [EVAL_CSV]``."""
    from models.model_card import write_model_card
    from models.transformer import TransformerClassifier

    old = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    clf = TransformerClassifier.from_folder(folder, cpu_bf16=False)
    try:
        source = str(eval_path.resolve().relative_to(MODELS_DIR.parent))
    except ValueError:
        source = str(eval_path)
    metrics = held_out_report(clf, load_many([eval_path]), source)
    metrics["training"] = old.get("training", {})
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_model_card(folder, metrics)
    return metrics


if __name__ == "__main__":  # pragma: no cover - a maintenance entry point
    import sys

    target = Path(sys.argv[1])
    data = Path(sys.argv[2]) if len(sys.argv) > 2 else MODELS_DIR / "data" / "blind.csv"
    print(json.dumps({k: v for k, v in refresh(target, data).items() if k != "corpus"})[:2000])
