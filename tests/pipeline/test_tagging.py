"""The daemon's tagger uses the sentiment pass's embeddings: with the shipped model the topic
head reads ``Prediction.embedding`` and runs no encoder of its own; without embeddings (or with
a hole in them) it computes the same answer itself; with the lexicon it uses the MiniLM head."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from consumers.records import Article
from models.registry import load_classifier
from models.topic_encoder import ClassifierEncoder
from pipeline.settings import load_settings
from pipeline.tagging import ArticleTagger

TEXTS = [
    "Moody's cut Hooli's credit rating to junk on rising debt",
    "Vandelay agreed to acquire a smaller rival for $2 billion",
    "Stark Industries will cut 1,200 jobs as workers plan a strike",
]


def articles() -> list[Article]:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return [Article(f"a{i}", t, None, None, "wire", "en", now) for i, t in enumerate(TEXTS)]


@pytest.mark.slow
def test_topics_come_from_the_sentiment_pass() -> None:
    settings = load_settings(None, model={"device": "cpu"})
    tagger = ArticleTagger.from_settings(settings)
    assert tagger.topics is not None and tagger.topics.takes_classifier_embeddings
    encoder = tagger.topics._encoder
    assert isinstance(encoder, ClassifierEncoder)

    preds = load_classifier(settings.model).classify([a.text for a in articles()])
    embeddings = [p.embedding for p in preds if p.embedding is not None]
    assert len(embeddings) == len(TEXTS)
    tags = tagger.tag(articles(), embeddings)
    assert encoder._classifier is None  # no second forward pass: nothing was loaded
    topics = [{t for t, _ in tp} for tp, _ in tags]
    assert "credit_debt" in topics[0] and "m_and_a" in topics[1] and "labor" in topics[2]

    # a batch without (complete) embeddings is embedded by the tagger itself: same answer
    holey: list[np.ndarray] = embeddings[:2]
    assert tagger.tag(articles(), holey) == tags
    assert encoder._classifier is not None


def test_lexicon_classifier_gets_the_minilm_head() -> None:
    settings = load_settings(None, model={"name": "lexicon"}, tagging={"topic_model": "default"})
    tagger = ArticleTagger.from_settings(settings)
    assert tagger.topics is not None and tagger.topics.head is not None
    assert not tagger.topics.takes_classifier_embeddings
    assert tagger.topics.head.encoder == "all-MiniLM-L6-v2/mean/l2"
