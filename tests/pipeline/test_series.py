"""Series correctness: the stored buckets always equal a brute-force recount of the current
sentiment rows, on SQLite and PostgreSQL, through redelivery, rescoring and retention."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import and_, select
from sqlalchemy.engine import Engine

from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.maintenance import apply_retention, keys, rescore
from pipeline.query import articles as query_articles
from pipeline.query import series
from pipeline.series import bucket_of, keys_for
from pipeline.settings import RetentionSettings
from pipeline.store import SqlStore, make_engine, upgrade
from pipeline.store.schema import (
    article_entities,
    article_topics,
    articles,
    sentiment_series,
    sentiments,
)

T0 = datetime(2026, 11, 19, 22, 30, tzinfo=UTC)  # spans a UTC day boundary
TOPICS = ["earnings", "credit_debt", "litigation_regulation", "guidance"]
ENTITIES = ["ACME", "GLOBEX", "INITECH"]


class KeywordFake:
    """A fake of the Classifier interface: labels by a marker word, versioned."""

    name = "fake"

    def __init__(self, version: str, flip: bool = False) -> None:
        self.version = version
        self.flip = flip

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        out = []
        for t in texts:
            neg = ("bad" in t) != (self.flip and "swing" in t)
            pos = "good" in t
            probs = (0.8, 0.1, 0.1) if neg else (0.1, 0.1, 0.8) if pos else (0.1, 0.8, 0.1)
            expl = (("bad", 0.9),) if explain and neg else None
            out.append(Prediction.from_probs(*probs, explanation=expl))
        return out


def make_items(n: int, seed: int = 7) -> list[ScoredArticle]:
    rng = random.Random(seed)
    clf = KeywordFake("v1")
    items = []
    for i in range(n):
        word = rng.choice(["bad", "good", "plain", "bad swing", "plain swing"])
        text = f"headline {i} {word}"
        art = Article(
            id=f"art-{i}",
            title=text,
            body="body text" if i % 2 else None,
            url=f"https://x/{i}",
            source=rng.choice(["Reuters", "PR", None]),
            lang="en",
            published_at=T0 + timedelta(seconds=rng.randint(0, 3 * 3600)),
        )
        topics = tuple((t, 0.9) for t in rng.sample(TOPICS, rng.randint(0, 2)))
        ents = tuple(rng.sample(ENTITIES, rng.randint(0, 2)))
        items.append(ScoredArticle(art, clf.classify([text])[0], clf.version, topics, ents))
    return items


def recount(engine: Engine) -> Counter[tuple[str, datetime, str]]:
    """Brute force: rebuild every (key, minute, label) count from the article tables."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                articles.c.id, articles.c.source, articles.c.published_at, sentiments.c.label
            ).join(
                sentiments, and_(sentiments.c.article_id == articles.c.id, sentiments.c.is_current)
            )
        ).all()
        topics: dict[str, list[tuple[str, float]]] = {}
        for aid, t in conn.execute(select(article_topics.c.article_id, article_topics.c.topic)):
            topics.setdefault(aid, []).append((t, 1.0))
        ents: dict[str, list[str]] = {}
        for aid, e in conn.execute(
            select(article_entities.c.article_id, article_entities.c.entity_id)
        ):
            ents.setdefault(aid, []).append(e)
    counts: Counter[tuple[str, datetime, str]] = Counter()
    for aid, source, published, label in rows:
        item = ScoredArticle(
            Article(aid, None, None, None, source, None, published),
            Prediction(label, 0, 0, 0),
            "x",
            tuple(topics.get(aid, [])),
            tuple(ents.get(aid, [])),
        )
        for key in keys_for(item):
            counts[(key, bucket_of(published, published), label)] += 1
    return counts


def stored(engine: Engine) -> Counter[tuple[str, datetime, str]]:
    counts: Counter[tuple[str, datetime, str]] = Counter()
    with engine.connect() as conn:
        for r in conn.execute(select(sentiment_series)).mappings():
            for label, col in (("negative", "n_neg"), ("neutral", "n_neu"), ("positive", "n_pos")):
                if r[col]:
                    counts[(r["series_key"], r["bucket_start"], label)] += r[col]
            assert r["n"] == r["n_neg"] + r["n_neu"] + r["n_pos"]
    return counts


def test_series_equal_brute_force_recount_under_redelivery(engine: Engine) -> None:
    items = make_items(300)
    store = SqlStore(engine)
    for i in range(0, 300, 50):
        store.write_batch(items[i : i + 50])
    # redeliver overlapping batches: nothing may move
    store.write_batch(items[20:120])
    store.write_batch(items[250:])
    expected = recount(engine)
    assert stored(engine) == expected
    assert sum(v for (k, _, _), v in expected.items() if k == "all") == 300
    assert any(k.startswith("entity:ACME/topic:") for k, _, _ in expected)


def test_rescore_moves_series_by_the_difference(engine: Engine) -> None:
    items = make_items(200)
    SqlStore(engine).write_batch(items)
    before = stored(engine)
    report = rescore(engine, KeywordFake("v2", flip=True), batch_size=37)
    assert report.articles == 200 and report.changed_labels > 0
    after = stored(engine)
    assert after == recount(engine)
    assert after != before
    with engine.connect() as conn:
        versions = Counter(
            (r.model_version, r.is_current)
            for r in conn.execute(select(sentiments.c.model_version, sentiments.c.is_current))
        )
    assert versions == Counter({("v1", False): 200, ("v2", True): 200})
    # rescoring with the same version again is a no-op; going back restores the original
    assert rescore(engine, KeywordFake("v2", flip=True)).articles == 0
    rescore(engine, KeywordFake("v1"))
    assert stored(engine) == before == recount(engine)


def test_rollups_across_bucket_and_day_boundaries(engine: Engine) -> None:
    items = make_items(300)
    SqlStore(engine).write_batch(items)
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=5)
    minute = series(engine, "all", since, until, every="1min")
    hourly = series(engine, "all", since, until, every="1h")
    daily = series(engine, "all", since, until, every="1D")
    five = series(engine, "all", since, until, every="5min")
    assert minute["n"].sum() == hourly["n"].sum() == daily["n"].sum() == five["n"].sum() == 300
    # daily buckets start at UTC midnight and split the stream at the day boundary
    assert list(daily.index) == [
        pd.Timestamp("2026-11-19", tz="UTC"),
        pd.Timestamp("2026-11-20", tz="UTC"),
    ]
    before_midnight = minute[minute.index < pd.Timestamp("2026-11-20", tz="UTC")]["n"].sum()
    assert daily["n"].iloc[0] == before_midnight
    assert all(ts.minute == 0 and ts.second == 0 for ts in hourly.index)
    assert all(ts.minute % 5 == 0 for ts in five.index)
    # hourly equals summing the minutes by hand
    by_hand = minute["n"].groupby(minute.index.floor("h")).sum()
    assert (hourly["n"][hourly["n"] > 0] == by_hand[by_hand > 0]).all()
    row = hourly[hourly["n"] > 0].iloc[0]
    assert row["neg_share"] == pytest.approx(row["n_neg"] / row["n"])


def test_sqlite_and_postgresql_answer_the_same(tmp_path: object, pg_admin: Engine) -> None:
    from tests.conftest import _pg_database

    items = make_items(250, seed=11)
    frames = []
    pg_urls = _pg_database(pg_admin)
    pg_url = next(pg_urls)
    try:
        for url in (f"sqlite:///{tmp_path}/a.db", pg_url):
            eng = make_engine(url)
            upgrade(eng)
            SqlStore(eng).write_batch(items)
            since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=4)
            frames.append(
                (
                    series(eng, "topic:earnings", since, until, every="15min"),
                    series(eng, "entity:ACME", since, until, every="1h"),
                    query_articles(eng, "entity:ACME/topic:credit_debt", since, until, limit=500),
                    query_articles(
                        eng, "source:reuters", since, until, label="negative", limit=500
                    ),
                    keys(eng, since),
                )
            )
            eng.dispose()
    finally:
        next(pg_urls, None)
    (a, b) = frames
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert list(a[2]["id"]) == list(b[2]["id"]) and len(a[2]) > 0
    assert list(a[3]["id"]) == list(b[3]["id"]) and len(a[3]) > 0
    pd.testing.assert_frame_equal(
        a[4].drop(columns=["first", "last"]), b[4].drop(columns=["first", "last"])
    )


def test_retention_keeps_series_longer_than_text(engine: Engine) -> None:
    items = make_items(100)
    SqlStore(engine).write_batch(items)
    before = stored(engine)
    now = T0 + timedelta(days=40)
    report = apply_retention(
        engine, RetentionSettings(text_days=30, articles_days=60, series_days=90), now
    )
    assert report.texts_cleared == 100 and report.articles_deleted == 0
    with engine.connect() as conn:
        bodies = conn.execute(select(articles.c.body, articles.c.url, articles.c.title)).all()
    assert all(b is None and u is None and t for b, u, t in bodies)
    assert stored(engine) == before  # series untouched
    report = apply_retention(
        engine,
        RetentionSettings(text_days=30, articles_days=60, series_days=90),
        T0 + timedelta(days=70),
    )
    assert report.articles_deleted == 100
    with engine.connect() as conn:
        assert conn.execute(select(sentiments)).first() is None
        assert conn.execute(select(article_topics)).first() is None
    assert stored(engine) == before  # series outlive the articles
    report = apply_retention(engine, RetentionSettings(series_days=90), T0 + timedelta(days=100))
    assert report.buckets_deleted > 0 and stored(engine) == Counter()


def test_keys_lists_volumes(engine: Engine) -> None:
    SqlStore(engine).write_batch(make_items(120))
    frame = keys(engine)
    assert frame.loc["all", "n"] == 120
    assert frame.index[0] == "all"
    topics = keys(engine, prefix="topic:")
    assert set(topics.index) <= {f"topic:{t}" for t in TOPICS}
