"""The SQL store on SQLite and PostgreSQL: migrations, schema checks, idempotent writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.errors import SchemaError
from pipeline.store import SqlStore, ensure_current, make_engine
from pipeline.store.migrate import check, current_revision, head_revision
from pipeline.store.schema import articles, sentiment_series, sentiments

T0 = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


def scored(i: int, label: str = "negative", source: str = "wire", minute: int = 0) -> ScoredArticle:
    probs = {"negative": (0.8, 0.1, 0.1), "neutral": (0.1, 0.8, 0.1), "positive": (0.1, 0.1, 0.8)}
    return ScoredArticle(
        article=Article(
            id=f"id-{i}",
            title=f"title {i}",
            body=None,
            url=None,
            source=source,
            lang="en",
            published_at=T0 + timedelta(minutes=minute),
        ),
        prediction=Prediction.from_probs(*probs[label]),
        model_version="test-1",
    )


def totals(engine: Engine, key: str) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.coalesce(func.sum(sentiment_series.c.n), 0),
                func.coalesce(func.sum(sentiment_series.c.n_neg), 0),
                func.coalesce(func.sum(sentiment_series.c.n_neu), 0),
                func.coalesce(func.sum(sentiment_series.c.n_pos), 0),
            ).where(sentiment_series.c.series_key == key)
        ).one()
    return tuple(int(x) for x in row)  # type: ignore[return-value]


def test_upgrade_head_has_no_drift(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    check(engine)  # alembic check: models and migrations agree
    assert ensure_current(engine) == head_revision(engine)


def test_daemon_refuses_an_unmigrated_schema(db_url: str) -> None:
    eng = make_engine(db_url)
    try:
        with pytest.raises(SchemaError, match="finsentry db upgrade"):
            ensure_current(eng)
    finally:
        eng.dispose()


def test_write_is_idempotent_on_article_id(engine: Engine) -> None:
    store = SqlStore(engine)
    batch = [scored(1, "negative"), scored(2, "positive"), scored(3, "neutral", source="PR")]
    assert store.write_batch(batch) == ["id-1", "id-2", "id-3"]
    # redelivery of the whole batch plus one new article: only the new one counts
    assert store.write_batch([*batch, scored(4, "negative")]) == ["id-4"]
    assert totals(engine, "all") == (4, 2, 1, 1)
    assert totals(engine, "source:wire") == (3, 2, 0, 1)
    assert totals(engine, "source:pr") == (1, 0, 1, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(articles)).scalar() == 4
        assert conn.execute(select(func.count()).select_from(sentiments)).scalar() == 4


def test_duplicates_within_one_batch_count_once(engine: Engine) -> None:
    store = SqlStore(engine)
    assert store.write_batch([scored(1), scored(1), scored(1, "positive")]) == ["id-1"]
    assert totals(engine, "all") == (1, 1, 0, 0)


def test_series_buckets_are_utc_minutes(engine: Engine) -> None:
    store = SqlStore(engine)
    store.write_batch([scored(1, minute=0), scored(2, minute=0), scored(3, minute=1)])
    with engine.connect() as conn:
        rows = conn.execute(
            select(sentiment_series.c.bucket_start, sentiment_series.c.n)
            .where(sentiment_series.c.series_key == "all")
            .order_by(sentiment_series.c.bucket_start)
        ).all()
    assert [(r[0], r[1]) for r in rows] == [
        (datetime(2026, 11, 20, 12, 0, tzinfo=UTC), 2),
        (datetime(2026, 11, 20, 12, 1, tzinfo=UTC), 1),
    ]
    assert all(r[0].tzinfo is not None for r in rows)


def test_future_timestamps_are_clamped_to_ingestion(engine: Engine) -> None:
    item = scored(9)
    future = ScoredArticle(
        article=Article(
            **{**_fields(item.article), "published_at": datetime(2100, 1, 1, tzinfo=UTC)}
        ),
        prediction=item.prediction,
        model_version="test-1",
    )
    SqlStore(engine).write_batch([future])
    with engine.connect() as conn:
        bucket = conn.execute(
            select(sentiment_series.c.bucket_start).where(sentiment_series.c.series_key == "all")
        ).scalar_one()
    assert bucket <= datetime.now(UTC)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    bad = scored(1)
    naive = ScoredArticle(
        article=Article(**{**_fields(bad.article), "published_at": datetime(2026, 1, 1)}),
        prediction=bad.prediction,
        model_version="x",
    )
    with pytest.raises(TypeError):
        SqlStore(engine).write_batch([naive])


def _fields(a: Article) -> dict[str, object]:
    return {s: getattr(a, s) for s in a.__slots__}  # type: ignore[attr-defined]
