"""Topic and entity tagging for the consumer loop, built from settings.

Combines :class:`models.topics.TopicTagger` and :class:`models.entities.EntityTagger` behind
the loop's :class:`consumers.loop.Tagger` seam: one call per batch. When the topic head reads
the sentiment model's embedding, the loop hands over the embeddings of the sentiment pass
(``Prediction.embedding``) and topics cost no forward pass of their own; otherwise (a head on
the frozen MiniLM, or a batch without embeddings) the tagger embeds the whole batch at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from consumers.loop import Tags
from consumers.records import Article
from models.entities import EntityTagger
from models.topics import TopicTagger
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class ArticleTagger:
    def __init__(self, topics: TopicTagger | None, entities: EntityTagger | None) -> None:
        self.topics = topics
        self.entities = entities

    @classmethod
    def from_settings(cls, settings: Settings) -> ArticleTagger:
        topics = TopicTagger.from_settings(settings.tagging, settings.model)
        entities = EntityTagger.from_settings(settings.tagging)
        log.info(
            "tagging: topics by %s over %d topics%s; watchlist %s",
            topics.mode,
            len(topics.taxonomy.ids),
            " on the sentiment pass's embedding" if topics.takes_classifier_embeddings else "",
            settings.tagging.watchlist or "(none: cashtags and tickers only)",
        )
        return cls(topics, entities)

    def _embeddings(
        self, n: int, embeddings: Sequence[np.ndarray | None] | None
    ) -> np.ndarray | None:
        """The batch's classifier embeddings as one matrix, when the topic head reads them and
        every article has one; else ``None`` (the tagger then embeds by itself)."""
        if self.topics is None or not self.topics.takes_classifier_embeddings:
            return None
        if embeddings is None or len(embeddings) != n or any(e is None for e in embeddings):
            return None
        return np.stack([np.asarray(e, dtype=np.float32) for e in embeddings if e is not None])

    def tag(
        self, articles: Sequence[Article], embeddings: Sequence[np.ndarray] | None = None
    ) -> list[Tags]:
        """Tags per article; ``embeddings``: the classifier's vectors for the same articles."""
        texts = [a.text for a in articles]
        if self.topics is not None:
            emb = self._embeddings(len(texts), embeddings)
            topics = self.topics.tag_many(texts, embeddings=emb)
        else:
            topics = [[] for _ in texts]
        entities = (
            self.entities.tag_many(texts, [list(a.tickers) for a in articles])
            if self.entities is not None
            else [[] for _ in texts]
        )
        return [
            (tuple((t, float(s)) for t, s in tp), tuple(en))
            for tp, en in zip(topics, entities, strict=True)
        ]
