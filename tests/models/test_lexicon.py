"""The lexicon baseline on the cases finance text is known for."""

from __future__ import annotations

import pytest

from models.base import Classifier
from models.lexicon import LexiconClassifier


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Acme shares plunge after profit warning", "negative"),
        ("Operating loss narrowed to EUR 2 mn", "positive"),
        ("Operating loss widened to EUR 9 mn", "negative"),
        ("The company did not miss estimates", "positive"),
        ("Revenue fell 10% year on year", "negative"),
        ("Net debt was reduced by half", "positive"),
        ("Net sales increased by 12% to EUR 54 mn", "positive"),
        ("Goldman upgrades Acme to Buy", "positive"),
        ("Analyst cuts Acme to Sell", "negative"),
        ("The AGM will be held on 5 May", "neutral"),
    ],
)
def test_hard_cases(text: str, label: str) -> None:
    assert LexiconClassifier().classify([text])[0].label == label


def test_interface_and_probabilities() -> None:
    clf = LexiconClassifier()
    assert isinstance(clf, Classifier)
    preds = clf.classify(["Shares slump", "Shares surge", ""], explain=True)
    for p in preds:
        assert abs(p.p_negative + p.p_neutral + p.p_positive - 1) < 1e-9
    assert preds[0].explanation == (("slump", 1.0),)
    assert preds[2].label == "neutral"
