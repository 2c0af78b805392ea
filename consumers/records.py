"""Plain records that cross the seams between Kafka, the models and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.base import Prediction


@dataclass(frozen=True, slots=True)
class Article:
    """A news article that passed the contract."""

    id: str
    title: str | None
    body: str | None
    url: str | None
    source: str | None
    lang: str | None
    published_at: datetime  # tz-aware UTC
    tickers: tuple[str, ...] = ()
    kafka_topic: str | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None

    @property
    def text(self) -> str:
        """What the classifiers read: the title, then the body lead (the model truncates)."""
        parts = [p.strip() for p in (self.title, self.body) if p and p.strip()]
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class ScoredArticle:
    """An article with its sentiment and tags, ready for one store transaction."""

    article: Article
    prediction: Prediction
    model_version: str
    topics: tuple[tuple[str, float], ...] = field(default=())
    entities: tuple[str, ...] = field(default=())
