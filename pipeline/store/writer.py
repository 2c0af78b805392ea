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

from sqlalchemy import Engine, Table, and_, or_, select
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
    stories,
    story_keys,
)
from pipeline.stories import BANDS, HORIZON, Known, Signature, match, signature

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
    new_story_keys: set[tuple[str, str]] | None = None,
    story_of: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Aggregate per (key, bucket) increments; ``sign=-1`` builds decrements (rescoring).

    Story counts (``s_*``) move only for the (story, key) pairs in ``new_story_keys``, once
    each, at the earliest of ``items`` that carries the pair; without them they stay put.
    """
    acc: dict[tuple[str, datetime], list[float]] = defaultdict(
        lambda: [0, 0, 0, 0, 0.0, 0, 0, 0, 0]
    )
    pending = set(new_story_keys or ())
    story_of = story_of or {}
    for item in sorted(items, key=lambda it: (it.article.published_at, it.article.id)):
        bucket = bucket_of(item.article.published_at, ingested_at or item.article.published_at)
        label = item.prediction.label
        lab = (label == "negative", label == "neutral", label == "positive")
        story = story_of.get(item.article.id)
        for key in keys_for(item, entity_topic):
            a = acc[(key, bucket)]
            a[0] += 1
            a[1] += lab[0]
            a[2] += lab[1]
            a[3] += lab[2]
            a[4] += item.prediction.score
            if story is not None and (story, key) in pending:
                pending.discard((story, key))
                a[5] += 1
                a[6] += lab[0]
                a[7] += lab[1]
                a[8] += lab[2]
    return [
        {
            "series_key": k,
            "bucket_start": b,
            "n": sign * int(a[0]),
            "n_neg": sign * int(a[1]),
            "n_neu": sign * int(a[2]),
            "n_pos": sign * int(a[3]),
            "score_sum": sign * float(a[4]),
            "s_n": sign * int(a[5]),
            "s_neg": sign * int(a[6]),
            "s_neu": sign * int(a[7]),
            "s_pos": sign * int(a[8]),
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
            "s_n": sentiment_series.c.s_n + stmt.excluded.s_n,
            "s_neg": sentiment_series.c.s_neg + stmt.excluded.s_neg,
            "s_neu": sentiment_series.c.s_neu + stmt.excluded.s_neu,
            "s_pos": sentiment_series.c.s_pos + stmt.excluded.s_pos,
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


def assign_stories(
    conn: Any,
    dialect: str,
    items: dict[str, ScoredArticle],
    sigs: dict[str, Signature],
    now: datetime,
) -> dict[str, str]:
    """article id → story id, opening stories for the ones that match none (same transaction).

    One look-up for the whole batch: exact story ids, and MinHash band matches within the
    horizon of the batch's times; then each article, earliest first, joins the earliest story
    it copies among its own candidates (same exact id or a shared band) — one found in the
    store or one opened earlier in this batch. Comparing each article only with its own
    candidates keeps the cost linear in the batch size, so large batches stay cheap.
    """
    if not items:
        return {}
    times = [min(it.article.published_at, now) for it in items.values()]
    lo, hi = min(times) - HORIZON, max(times) + HORIZON
    band_match = or_(
        *(
            stories.c[f"band{b}"].in_(sorted({s.bands[b] for s in sigs.values()}))
            for b in range(BANDS)
        )
    )
    band_cols = [stories.c[f"band{b}"] for b in range(BANDS)]
    found = conn.execute(
        select(stories.c.story_id, stories.c.first_seen, stories.c.text, *band_cols).where(
            or_(
                stories.c.story_id.in_(sorted({s.exact_id for s in sigs.values()})),
                and_(stories.c.first_seen >= lo, stories.c.first_seen <= hi, band_match),
            )
        )
    ).all()
    # Candidates per article, as the store's band index would give them: the story with its
    # exact id and the stories that share one of its MinHash bands; each is then verified.
    by_id: dict[str, Known] = {}
    by_band: dict[tuple[int, int], list[Known]] = defaultdict(list)

    def remember(k: Known, bands: Sequence[int]) -> None:
        by_id.setdefault(k.story_id, k)
        for b, value in enumerate(bands):
            by_band[(b, value)].append(k)

    for r in found:
        remember(Known(r[0], r[1], r[2]), r[3:])
    story_of: dict[str, str] = {}
    opened: list[dict[str, Any]] = []
    order = sorted(items.values(), key=lambda it: (it.article.published_at, it.article.id))
    for it in order:
        aid = it.article.id
        sig = sigs[aid]
        published = min(it.article.published_at, now)
        candidates = {id(k): k for b, v in enumerate(sig.bands) for k in by_band.get((b, v), ())}
        exact = by_id.get(sig.exact_id)
        if exact is not None:
            candidates[id(exact)] = exact
        sid = match(sig, published, list(candidates.values()))
        if sid is None:
            sid = sig.exact_id
            remember(Known(sid, published, sig.text), sig.bands)
            opened.append(
                {
                    "story_id": sid,
                    "first_seen": published,
                    "text": sig.text,
                    **{f"band{b}": sig.bands[b] for b in range(BANDS)},
                }
            )
        story_of[aid] = sid
    if opened:
        conn.execute(
            dialect_insert(dialect, stories).on_conflict_do_nothing(
                index_elements=[stories.c.story_id]
            ),
            opened,
        )
    return story_of


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
        sigs = {aid: signature(it.article.title, it.article.body) for aid, it in unique.items()}
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
                story_of = assign_stories(conn, self.dialect, unique, sigs, now)
                for row in rows:
                    row["story_id"] = story_of[str(row["id"])]
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
                pairs = sorted(
                    {
                        (story_of[it.article.id], key)
                        for it in fresh
                        for key in keys_for(it, self.entity_topic_series)
                    }
                )
                new_pairs = {
                    (r[0], r[1])
                    for r in conn.execute(
                        dialect_insert(self.dialect, story_keys)
                        .on_conflict_do_nothing()
                        .returning(story_keys.c.story_id, story_keys.c.series_key),
                        [{"story_id": sid, "series_key": key} for sid, key in pairs],
                    )
                }
                upsert_series(
                    conn,
                    self.dialect,
                    series_rows(
                        fresh,
                        now,
                        entity_topic=self.entity_topic_series,
                        new_story_keys=new_pairs,
                        story_of=story_of,
                    ),
                )
                return sorted(new_ids)
        except SQLAlchemyError as exc:
            raise store_error(exc, f"writing a batch of {len(rows)} articles failed") from exc
