"""Honest probabilities: temperature scaling, the neutral prior bias, and the shipped model's
calibration as the daemon loads it."""

from __future__ import annotations

import json

import pytest
import torch

from models.pooled import fit_temperature
from models.registry import DEFAULT_MODEL_DIR
from models.train import choose_neutral_bias
from models.transformer import TransformerClassifier

TEXTS = [
    "Regulators widen probe into Acme Corp's revenue recognition",
    "Acme beats estimates and raises full-year guidance",
    "Stocks making the biggest moves midday: $ACME, $GLBX, $INIT",
    "Net profit decreased from EUR 6.1 mn to EUR 4.3 mn.",
    "Is Acme a buy after its 20% drop?",
    "Acme to report third-quarter results on October 24",
]


def test_fit_temperature_recovers_a_known_temperature() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 3, generator=gen) * 4
    labels = torch.multinomial(torch.softmax(logits / 2.5, dim=-1), 1, generator=gen).squeeze(1)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.1)


def test_neutral_bias_is_chosen_where_it_helps_macro_f1() -> None:
    # a model that calls a third of the neutral rows polar: a positive neutral bias fixes it
    labels = [1] * 300 + [0] * 100 + [2] * 100
    logits = torch.zeros(500, 3)
    for i, y in enumerate(labels):
        logits[i, y] = 2.0
    logits[:100, 1], logits[:100, 0] = 1.0, 1.5  # neutral rows the model leans negative on
    assert choose_neutral_bias(logits, labels) > 0.4
    assert choose_neutral_bias(torch.eye(3).repeat(10, 1) * 3, [0, 1, 2] * 10) == 0.0


@pytest.mark.slow
def test_calibration_changes_probabilities_not_labels(
    shipped_model: TransformerClassifier,
) -> None:
    model = shipped_model.model
    t = float(model.temperature)
    bias = tuple(float(b) for b in model.logit_bias.tolist())
    assert t != 1.0  # the shipped model is calibrated
    calibrated = shipped_model.classify(TEXTS)
    model.set_calibration(1.0, bias)
    try:
        raw = shipped_model.classify(TEXTS)
    finally:
        model.set_calibration(t, bias)
    assert [p.label for p in raw] == [p.label for p in calibrated]
    assert any(
        abs(a.p_negative - b.p_negative) > 1e-3 for a, b in zip(raw, calibrated, strict=True)
    )
    # a temperature above 1 only softens: the top probability never grows
    for a, b in zip(raw, calibrated, strict=True):
        top = max(a.p_negative, a.p_neutral, a.p_positive)
        assert max(b.p_negative, b.p_neutral, b.p_positive) <= top + 1e-6


@pytest.mark.slow
def test_shipped_model_labels_the_demo_probe_story_and_neutral_traps(
    shipped_model: TransformerClassifier,
) -> None:
    labels = [p.label for p in shipped_model.classify(TEXTS)]
    assert labels == ["negative", "positive", "neutral", "negative", "neutral", "neutral"]


def test_shipped_metrics_meet_the_blind_targets() -> None:
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())
    assert metrics["eval_data"] == "models/data/blind.csv"
    assert metrics["macro_f1"] >= 0.85
    assert min(r["macro_f1"] for r in metrics["by_register"].values()) >= 0.75
    assert metrics["ece"] <= 0.05 and metrics["ece"] < metrics["ece_uncalibrated"]
