"""Token-budget batching with length bucketing, truncation of long articles, input order."""

from __future__ import annotations

import pytest

from models.batching import plan_batches
from models.transformer import TransformerClassifier, clip_text


def test_plan_batches_respects_budget_and_doc_cap() -> None:
    lengths = [5, 40, 12, 40, 3, 7, 33, 20, 20, 9, 64, 2]
    batches = plan_batches(lengths, batch_tokens=80, max_docs=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) * max(lengths[i] for i in b) <= 80
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # bucketed by length


def test_plan_batches_oversized_doc_is_its_own_batch() -> None:
    assert plan_batches([300, 10], batch_tokens=256, max_docs=8) == [[1], [0]]
    with pytest.raises(ValueError):
        plan_batches([1], batch_tokens=0, max_docs=1)


def test_worker_batches_within_budget_and_restores_order(
    tiny_worker: TransformerClassifier,
) -> None:
    texts = ["Acme " + "shares fall sharply " * (i % 7) + f"in session {i}" for i in range(23)]
    budget, cap = tiny_worker.batch_tokens, tiny_worker.max_batch_docs
    try:
        tiny_worker.batch_tokens, tiny_worker.max_batch_docs = 120, 5
        batches = tiny_worker.preprocess(texts).batches
        for b in batches:
            rows, width = b.inputs["input_ids"].shape
            assert rows <= 5 and rows * width <= 120
        assert sorted(i for b in batches for i in b.indices) == list(range(len(texts)))
        together = tiny_worker.classify(texts)
    finally:
        tiny_worker.batch_tokens, tiny_worker.max_batch_docs = budget, cap
    one_by_one = [tiny_worker.classify([t])[0] for t in texts]
    for a, b in zip(together, one_by_one, strict=True):
        assert a.label == b.label
        assert a.p_negative == pytest.approx(b.p_negative, abs=1e-4)


def test_long_article_is_cut_to_max_tokens_and_classified(
    tiny_worker: TransformerClassifier,
) -> None:
    article = "Acme shares plunge after profit warning. " + "The board met again. " * 20_000
    assert len(clip_text(article, tiny_worker.max_tokens)) <= tiny_worker.max_tokens * 10
    (batch,) = tiny_worker.preprocess([article]).batches
    assert batch.inputs["input_ids"].shape == (1, tiny_worker.max_tokens)
    (pred,) = tiny_worker.classify([article])
    assert pred.label in ("negative", "neutral", "positive")
    assert pred.p_negative + pred.p_neutral + pred.p_positive == pytest.approx(1.0, abs=1e-5)
    # the head is kept: the title's tokens are what the model saw
    first = tiny_worker.tokenizer.decode(batch.inputs["input_ids"][0, 1:6])
    assert first.startswith("acme shares plunge")


def test_empty_input_and_blank_text(tiny_worker: TransformerClassifier) -> None:
    assert tiny_worker.classify([]) == []
    (pred,) = tiny_worker.classify([""])
    assert pred.label in ("negative", "neutral", "positive")
