"""The batch writer: one transaction per consumer batch.

Order inside the transaction: insert articles with ON CONFLICT DO NOTHING and RETURNING, so
the database (not this process) decides which ids are new; then sentiments, topics, entities
and the series increments for the new ids only. A redelivered message therefore changes
nothing, across restarts and across several daemons sharing PostgreSQL. Series rows are upserted
in sorted key order so two writers can't deadlock on each other.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from consumers.records import ScoredArticle
from pipeline.errors import StoreError
from pipeline.series import bucket_of, keys_for
from pipeline.store.engine import store_error
from pipeline.store.schema import (
    article_entities,
    article_topics,
    articles,
    sentiment_series,
    sentiments,
)

log = logging.getLogger(__name__)


def dialect_insert(engine_or_name: Engine | str, table: Table) -> Any:
    name = engine_or_name if isinstance(engine_or_name, str) else engine_or_name.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")


def series_rows(
    items: Sequence[ScoredArticle],
    ingested_at: datetime | None = None,
    sign: int = 1,
    entity_topic: bool = True,
) -> list[dict[str, Any]]:
    """Aggregate per (key, bucket) increments; ``sign=-1`` builds decrements (rescoring)."""
    acc: dict[tuple[str, datetime], list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0.0])
    for item in items:
        bucket = bucket_of(item.article.published_at, ingested_at or item.article.published_at)
        label = item.prediction.label
        for key in keys_for(item, entity_topic):
            a = acc[(key, bucket)]
            a[0] += 1
            a[1] += label == "negative"
            a[2] += label == "neutral"
            a[3] += label == "positive"
            a[4] += item.prediction.score
    return [
        {
            "series_key": k,
            "bucket_start": b,
            "n": sign * int(a[0]),
            "n_neg": sign * int(a[1]),
            "n_neu": sign * int(a[2]),
            "n_pos": sign * int(a[3]),
            "score_sum": sign * float(a[4]),
        }
        for (k, b), a in sorted(acc.items())
    ]


def upsert_series(conn: Any, dialect: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = dialect_insert(dialect, sentiment_series)
    stmt = stmt.on_conflict_do_update(
        index_elements=[sentiment_series.c.series_key, sentiment_series.c.bucket_start],
        set_={
            "n": sentiment_series.c.n + stmt.excluded.n,
            "n_neg": sentiment_series.c.n_neg + stmt.excluded.n_neg,
            "n_neu": sentiment_series.c.n_neu + stmt.excluded.n_neu,
            "n_pos": sentiment_series.c.n_pos + stmt.excluded.n_pos,
            "score_sum": sentiment_series.c.score_sum + stmt.excluded.score_sum,
        },
    )
    conn.execute(stmt, rows)


def sentiment_row(item: ScoredArticle, now: datetime) -> dict[str, Any]:
    p = item.prediction
    return {
        "article_id": item.article.id,
        "model_version": item.model_version,
        "label": p.label,
        "p_neg": p.p_negative,
        "p_neu": p.p_neutral,
        "p_pos": p.p_positive,
        "score": p.score,
        "explanation": [list(t) for t in p.explanation] if p.explanation else None,
        "is_current": True,
        "created_at": now,
    }


class SqlStore:
    """:class:`consumers.sink.ArticleSink` on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, entity_topic_series: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.entity_topic_series = entity_topic_series

    def write_batch(self, items: Sequence[ScoredArticle]) -> list[str]:
        unique: dict[str, ScoredArticle] = {}
        for item in items:
            unique.setdefault(item.article.id, item)  # first delivery in the batch wins
        if not unique:
            return []
        now = datetime.now(UTC)
        rows = [
            {
                "id": it.article.id,
                "source": it.article.source,
                "url": it.article.url,
                "title": it.article.title,
                "body": it.article.body,
                "lang": it.article.lang,
                "tickers": list(it.article.tickers) or None,
                "published_at": min(it.article.published_at, now),
                "ingested_at": now,
                "kafka_topic": it.article.kafka_topic,
                "kafka_partition": it.article.kafka_partition,
                "kafka_offset": it.article.kafka_offset,
            }
            for it in unique.values()
        ]
        try:
            with self.engine.begin() as conn:
                stmt = (
                    dialect_insert(self.dialect, articles)
                    .on_conflict_do_nothing(index_elements=[articles.c.id])
                    .returning(articles.c.id)
                )
                new_ids = {r[0] for r in conn.execute(stmt, rows)}
                if not new_ids:
                    return []
                fresh = [unique[i] for i in sorted(new_ids)]
                conn.execute(sentiments.insert(), [sentiment_row(it, now) for it in fresh])
                topic_rows = [
                    {"article_id": it.article.id, "topic": t, "score": s}
                    for it in fresh
                    for t, s in dict(it.topics).items()
                ]
                if topic_rows:
                    conn.execute(article_topics.insert(), topic_rows)
                entity_rows = [
                    {"article_id": it.article.id, "entity_id": e}
                    for it in fresh
                    for e in sorted(set(it.entities))
                ]
                if entity_rows:
                    conn.execute(article_entities.insert(), entity_rows)
                upsert_series(
                    conn,
                    self.dialect,
                    series_rows(fresh, now, entity_topic=self.entity_topic_series),
                )
                return sorted(new_ids)
        except SQLAlchemyError as exc:
            raise store_error(exc, f"writing a batch of {len(rows)} articles failed") from exc
