"""Token-budget batching with length bucketing, truncation of long articles, input order, and
the embedding each prediction carries from the same forward pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.batching import plan_batches
from models.config import ModelSettings
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
    assert pred.p_negative + pred.p_neutral + pred.p_positive == pytest.approx(1.0, abs=1e-5)
    # everything past the token budget is ignored: a prefix that still fills it scores the same
    (prefix,) = tiny_worker.classify([article[: tiny_worker.max_tokens * 8]])
    assert pred.label == prefix.label
    assert pred.p_negative == pytest.approx(prefix.p_negative, abs=1e-5)
    # the head is kept: the title's tokens are what the model saw
    first = tiny_worker.tokenizer.decode(batch.inputs["input_ids"][0, 1:6])
    assert first.startswith("acme shares plunge")


def test_empty_input_and_blank_text(tiny_worker: TransformerClassifier) -> None:
    assert tiny_worker.classify([]) == []
    assert tiny_worker.preprocess([]).batches == []
    blank, spaces = tiny_worker.classify(["", "  \n\t "])
    assert blank.p_negative + blank.p_neutral + blank.p_positive == pytest.approx(1.0, abs=1e-5)
    # whitespace collapses before tokenizing: a blank text is the empty text
    assert spaces.label == blank.label
    assert spaces.p_negative == pytest.approx(blank.p_negative, abs=1e-6)


def test_embedding_comes_from_the_same_pass(tiny_worker: TransformerClassifier) -> None:
    """The pooled classifier hands out its layer's mean-pooled vector with each prediction,
    the same for a text alone or in a batch; the explanation pass does not compute one."""
    texts = ["Acme shares plunge after profit warning", "Globex names a new CFO", "x " * 40]
    together = tiny_worker.classify(texts)
    hidden = tiny_worker.model.config.hidden_size
    assert tiny_worker.embedding_name is not None
    assert tiny_worker.embedding_name.startswith(tiny_worker.version + "/layer")
    for text, pred in zip(texts, together, strict=True):
        assert pred.embedding is not None and pred.embedding.shape == (hidden,)
        (alone,) = tiny_worker.classify([text])
        assert alone.embedding is not None
        np.testing.assert_allclose(alone.embedding, pred.embedding, atol=1e-4)
    assert not np.allclose(together[0].embedding, together[1].embedding)
    (explained,) = tiny_worker.classify(texts[:1], explain=True)
    assert explained.embedding is None and explained.explanation


def test_foreign_checkpoint_gives_no_embedding(random_checkpoint: Path) -> None:
    worker = TransformerClassifier.from_folder(
        random_checkpoint, ModelSettings(device="cpu"), cpu_bf16=False
    )
    assert worker.embedding_name is None
    assert all(p.embedding is None for p in worker.classify(["Acme shares fall", "Hooli rises"]))
