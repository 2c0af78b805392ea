"""Store maintenance: rescoring with another model, retention, and the key catalogue.

Rescoring keeps history honest: every sentiment row records the model version that produced
it, the new rows become *current*, and the series are moved by exactly the difference (old
labels decremented, new ones incremented, per bucket, in the same transaction), so they always
equal a recount of the current rows — also while a daemon keeps inserting new articles.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from consumers.records import Article, ScoredArticle
from models.base import Classifier, Prediction
from pipeline.errors import StoreError
from pipeline.settings import RetentionSettings
from pipeline.store.schema import (
    article_entities,
    article_topics,
    articles,
    sentiment_series,
    sentiments,
    stories,
    story_keys,
)
from pipeline.store.writer import sentiment_row, series_rows, upsert_series
from pipeline.stories import HORIZON

log = logging.getLogger(__name__)


@dataclass
class RescoreReport:
    model_version: str
    articles: int = 0
    changed_labels: int = 0
    batches: int = 0


def _load_batch(
    conn: Any,
    since: datetime | None,
    until: datetime | None,
    version: str,
    after: str | None,
    limit: int,
) -> list[Any]:
    stmt = (
        select(
            articles.c.id,
            articles.c.title,
            articles.c.body,
            articles.c.source,
            articles.c.published_at,
            sentiments.c.label,
            sentiments.c.p_neg,
            sentiments.c.p_neu,
            sentiments.c.p_pos,
            sentiments.c.model_version,
        )
        .join(sentiments, and_(sentiments.c.article_id == articles.c.id, sentiments.c.is_current))
        .where(sentiments.c.model_version != version)
        .order_by(articles.c.id)
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(articles.c.published_at >= since)
    if until is not None:
        stmt = stmt.where(articles.c.published_at < until)
    if after is not None:
        stmt = stmt.where(articles.c.id > after)
    return list(conn.execute(stmt).all())


def _tags(
    conn: Any, ids: list[str]
) -> tuple[dict[str, list[tuple[str, float]]], dict[str, list[str]]]:
    topics: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for aid, topic, score in conn.execute(
        select(article_topics.c.article_id, article_topics.c.topic, article_topics.c.score).where(
            article_topics.c.article_id.in_(ids)
        )
    ):
        topics[aid].append((topic, float(score or 0.0)))
    entities: dict[str, list[str]] = defaultdict(list)
    for aid, ent in conn.execute(
        select(article_entities.c.article_id, article_entities.c.entity_id).where(
            article_entities.c.article_id.in_(ids)
        )
    ):
        entities[aid].append(ent)
    return topics, entities


def rescore(
    engine: Engine,
    classifier: Classifier,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    batch_size: int = 256,
    explain_negative: bool = True,
    entity_topic_series: bool = True,
    progress: Callable[[RescoreReport], None] | None = None,
) -> RescoreReport:
    """Re-classify stored articles with ``classifier`` and move the series accordingly."""
    version = classifier.version
    report = RescoreReport(model_version=version)
    after: str | None = None
    while True:
        with engine.connect() as conn:
            rows = _load_batch(conn, since, until, version, after, batch_size)
            if not rows:
                break
            ids = [r.id for r in rows]
            topics, entities = _tags(conn, ids)
        after = ids[-1]
        texts = ["\n".join(p for p in (r.title, r.body) if p) for r in rows]
        preds = classifier.classify(texts)
        if explain_negative:
            neg = [i for i, p in enumerate(preds) if p.label == "negative"]
            if neg:
                for i, p in zip(
                    neg, classifier.classify([texts[i] for i in neg], explain=True), strict=True
                ):
                    preds[i] = p
        old_items, new_items = [], []
        for r, p in zip(rows, preds, strict=True):
            art = Article(r.id, r.title, None, None, r.source, None, r.published_at)
            tp, en = tuple(topics.get(r.id, ())), tuple(entities.get(r.id, ()))
            old = Prediction.from_probs(r.p_neg, r.p_neu, r.p_pos)
            old = Prediction(r.label, old.p_negative, old.p_neutral, old.p_positive)
            old_items.append(ScoredArticle(art, old, r.model_version, tp, en))
            new_items.append(ScoredArticle(art, p, version, tp, en))
            report.changed_labels += r.label != p.label
        now = datetime.now(UTC)
        try:
            with engine.begin() as conn:
                conn.execute(
                    update(sentiments)
                    .where(sentiments.c.article_id.in_(ids), sentiments.c.is_current)
                    .values(is_current=False)
                )
                conn.execute(
                    delete(sentiments).where(
                        sentiments.c.article_id.in_(ids), sentiments.c.model_version == version
                    )
                )
                conn.execute(sentiments.insert(), [sentiment_row(it, now) for it in new_items])
                dialect = engine.dialect.name
                upsert_series(
                    conn, dialect, series_rows(old_items, sign=-1, entity_topic=entity_topic_series)
                )
                upsert_series(
                    conn, dialect, series_rows(new_items, sign=1, entity_topic=entity_topic_series)
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"rescoring a batch of {len(ids)} articles failed: {exc}") from exc
        report.articles += len(ids)
        report.batches += 1
        if progress is not None:
            progress(report)
    return report


@dataclass
class RetentionReport:
    texts_cleared: int = 0
    articles_deleted: int = 0
    buckets_deleted: int = 0


def apply_retention(
    engine: Engine, policy: RetentionSettings, now: datetime | None = None
) -> RetentionReport:
    """Clear old article text, delete old articles, delete old series buckets.

    Text goes first (bodies and URLs; the headline stays so evidence still reads), articles
    later, series last: the time series people query outlive the articles behind them.
    """
    now = now or datetime.now(UTC)
    report = RetentionReport()
    try:
        with engine.begin() as conn:
            if policy.text_days is not None:
                cutoff = now - timedelta(days=policy.text_days)
                res = conn.execute(
                    update(articles)
                    .where(articles.c.published_at < cutoff)
                    .where((articles.c.body.is_not(None)) | (articles.c.url.is_not(None)))
                    .values(body=None, url=None)
                )
                report.texts_cleared = res.rowcount or 0
            if policy.articles_days is not None:
                cutoff = now - timedelta(days=policy.articles_days)
                old = select(articles.c.id).where(articles.c.published_at < cutoff)
                for child in (sentiments, article_topics, article_entities):
                    conn.execute(delete(child).where(child.c.article_id.in_(old)))
                res = conn.execute(delete(articles).where(articles.c.published_at < cutoff))
                report.articles_deleted = res.rowcount or 0
                # stories older than the horizon can't gain copies; their series counts stay
                stale = cutoff - HORIZON
                gone = select(stories.c.story_id).where(stories.c.first_seen < stale)
                conn.execute(delete(story_keys).where(story_keys.c.story_id.in_(gone)))
                conn.execute(delete(stories).where(stories.c.first_seen < stale))
            if policy.series_days is not None:
                cutoff = now - timedelta(days=policy.series_days)
                res = conn.execute(
                    delete(sentiment_series).where(sentiment_series.c.bucket_start < cutoff)
                )
                report.buckets_deleted = res.rowcount or 0
    except SQLAlchemyError as exc:
        raise StoreError(f"retention failed: {exc}") from exc
    log.info(
        "retention: %d texts cleared, %d articles deleted, %d buckets deleted",
        report.texts_cleared,
        report.articles_deleted,
        report.buckets_deleted,
    )
    return report


def keys(engine: Engine, since: datetime | None = None, prefix: str | None = None) -> pd.DataFrame:
    """Every series key with its volume: n, n_neg, stories (distinct), neg_share, first and
    last bucket."""
    stmt = select(
        sentiment_series.c.series_key,
        func.sum(sentiment_series.c.n).label("n"),
        func.sum(sentiment_series.c.n_neg).label("n_neg"),
        func.sum(sentiment_series.c.s_n).label("stories"),
        func.min(sentiment_series.c.bucket_start).label("first"),
        func.max(sentiment_series.c.bucket_start).label("last"),
    ).group_by(sentiment_series.c.series_key)
    if since is not None:
        stmt = stmt.where(sentiment_series.c.bucket_start >= since)
    if prefix:
        stmt = stmt.where(sentiment_series.c.series_key.startswith(prefix))
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(rows, columns=["series_key", "n", "n_neg", "stories", "first", "last"])
    frame = frame[frame["n"] > 0]
    for col in ("n", "n_neg", "stories"):
        frame[col] = frame[col].astype("int64")
    frame["neg_share"] = (frame["n_neg"] / frame["n"]).round(4)
    for col in ("first", "last"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.sort_values(["n", "series_key"], ascending=[False, True]).set_index("series_key")
