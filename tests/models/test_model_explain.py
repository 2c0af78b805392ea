"""Explanations: words from the text, merged wordpieces, strongest first."""

from __future__ import annotations

import re

from models.explain import merge_words
from models.transformer import TransformerClassifier


def test_merge_words_joins_wordpieces_and_drops_punctuation() -> None:
    text = "Acme's profit-warning hits shares, badly."
    # tokens: Acme ' s profit - warning hits shares , badly .
    offsets = [
        (0, 0),
        (0, 4),
        (4, 5),
        (5, 6),
        (7, 13),
        (13, 14),
        (14, 21),
        (22, 26),
        (27, 33),
        (33, 34),
        (35, 40),
        (40, 41),
        (0, 0),
    ]
    scores = [9.0, 0.1, 5.0, 0.1, 0.5, 5.0, 0.5, -1.0, 0.25, 5.0, 0.3, 5.0, 9.0]
    words = merge_words(text, offsets, scores, top_k=3)
    assert [w for w, _ in words] == ["profit-warning", "badly", "shares"]
    weights = [w for _, w in words]
    assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
    assert merge_words("", [(0, 0)], [1.0], top_k=3) == ()


def test_merge_words_ranks_out_function_words_and_bare_numbers() -> None:
    text = "The board would not propose 1,200 cuts"
    offsets = [(0, 3), (4, 9), (10, 15), (16, 19), (20, 27), (28, 33), (34, 38)]
    # the function words and the number score highest, as gradient x input often has them
    scores = [0.9, 0.1, 0.8, 0.3, 0.4, 0.7, 0.2]
    words = merge_words(text, offsets, scores, top_k=8)
    assert [w for w, _ in words] == ["propose", "not", "cuts", "board"]
    # their attribution still counts in the normaliser: weights are shares of the whole sentence
    assert abs(words[0][1] - 0.4 / sum(scores)) < 1e-9


def test_classifier_explanations_are_words_of_the_text(tiny_worker: TransformerClassifier) -> None:
    texts = [
        "Acme shares plunge after a profit warning; analysts cut targets.",
        "Initech beats estimates and raises full-year guidance",
    ]
    preds = tiny_worker.classify(texts, explain=True)
    plain = tiny_worker.classify(texts)
    for text, pred, ref in zip(texts, preds, plain, strict=True):
        assert pred.explanation is not None
        assert pred.label == ref.label  # explaining doesn't change the answer
        words = re.findall(r"[\w'-]+", text)
        for token, weight in pred.explanation:
            assert token in words
            assert weight > 0
        weights = [w for _, w in pred.explanation]
        assert weights == sorted(weights, reverse=True)
        assert len(pred.explanation) <= tiny_worker.explain_top_k
    assert all(p.explanation is None for p in plain)
