"""Checkpoint label names onto (negative, neutral, positive), and the errors when they don't fit."""

from __future__ import annotations

import pytest

from models.labels import checkpoint_label_order, normalise_label


@pytest.mark.parametrize(
    ("id2label", "order"),
    [
        ({0: "negative", 1: "neutral", 2: "positive"}, [0, 1, 2]),
        ({0: "positive", 1: "negative", 2: "neutral"}, [1, 2, 0]),  # ProsusAI/finbert order
        ({"0": "NEG", "1": "NEU", "2": "POS"}, [0, 1, 2]),
        ({0: "Bullish", 1: "Bearish", 2: "Neutral"}, [1, 2, 0]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, [0, 1, 2]),
    ],
)
def test_known_label_names(id2label: dict, order: list[int]) -> None:
    assert checkpoint_label_order(id2label) == order


@pytest.mark.parametrize(
    ("id2label", "message"),
    [
        (
            {0: "joy", 1: "anger", 2: "neutral"},
            r"cannot map checkpoint label\(s\) \['joy', 'anger'\]",
        ),
        ({0: "negative", 1: "positive"}, "exactly three classes"),
        ({0: "negative", 1: "NEG", 2: "positive"}, "map twice onto 'negative'"),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_7"}, r"\['LABEL_7'\]"),
    ],
)
def test_unmappable_labels_fail_clearly(id2label: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        checkpoint_label_order(id2label)


def test_normalise_label() -> None:
    assert normalise_label(" Negative ") == "negative"
    assert normalise_label("pos") == "positive"
    assert normalise_label("mixed") is None
