"""Topic and entity tagging for the consumer loop, built from settings.

Combines :class:`models.topics.TopicTagger` and :class:`models.entities.EntityTagger` behind
the loop's :class:`consumers.loop.Tagger` seam: one call per batch, so the topic head embeds the
whole batch at once.
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
        topics = TopicTagger.from_settings(settings)
        entities = EntityTagger.from_settings(settings)
        log.info(
            "tagging: topics by %s over %d topics; watchlist %s",
            topics.mode,
            len(topics.taxonomy.ids),
            settings.tagging.watchlist or "(none: cashtags and tickers only)",
        )
        return cls(topics, entities)

    def tag(
        self, articles: Sequence[Article], embeddings: Sequence[np.ndarray] | None = None
    ) -> list[Tags]:
        """Tags per article; ``embeddings`` (the classifier's pooled vectors) are not used yet."""
        texts = [a.text for a in articles]
        topics = self.topics.tag_many(texts) if self.topics is not None else [[] for _ in texts]
        entities = (
            self.entities.tag_many(texts, [list(a.tickers) for a in articles])
            if self.entities is not None
            else [[] for _ in texts]
        )
        return [
            (tuple((t, float(s)) for t, s in tp), tuple(en))
            for tp, en in zip(topics, entities, strict=True)
        ]
