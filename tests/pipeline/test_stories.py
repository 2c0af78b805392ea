"""Stories, not copies: syndicated copies and near-copies of one story count once, on SQLite
and PostgreSQL, under redelivery and with two writers on one database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from alerts.config import AlertSettings
from alerts.lifecycle import Lifecycle
from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.query import articles as query_articles
from pipeline.query import top_negative
from pipeline.store import SqlStore, make_engine, upgrade
from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.store.schema import articles, sentiment_series, stories
from pipeline.stories import match, normalise, signature

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TITLE = "Regulators widen probe into Acme Corp's revenue recognition"


def item(
    aid: str, title: str, *, source: str = "wire", minute: int = 0, neg: bool = True
) -> ScoredArticle:
    probs = (0.9, 0.08, 0.02) if neg else (0.05, 0.9, 0.05)
    return ScoredArticle(
        article=Article(
            id=aid,
            title=title,
            body=None,
            url=None,
            source=source,
            lang="en",
            published_at=T + timedelta(minutes=minute),
            tickers=("ACME",),
        ),
        prediction=Prediction.from_probs(*probs, (("probe", 0.5), ("Acme", 0.4))),
        model_version="test",
        entities=("ACME",),
    )


def totals(engine: Engine, key: str = "all") -> tuple[int, int, int]:
    with engine.connect() as conn:
        row = conn.execute(
            select(
                func.coalesce(func.sum(sentiment_series.c.n), 0),
                func.coalesce(func.sum(sentiment_series.c.s_n), 0),
                func.coalesce(func.sum(sentiment_series.c.s_neg), 0),
            ).where(sentiment_series.c.series_key == key)
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def story_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(stories)).scalar_one())


def test_normalisation_and_matching() -> None:
    assert (
        normalise("UPDATE 1-Acme cuts $ACME guidance https://t.co/Ab12")
        == "acme cuts acme guidance"
    )
    a = signature("BRIEF-Acme Corp cuts full-year outlook on weak orders", None)
    b = signature("Acme Corp cuts full-year outlook on weak orders", None)
    assert a.exact_id == b.exact_id
    near = signature("Acme Corp cuts its full-year outlook on weak orders", None)
    other = signature("Initech raises dividend after record quarter", None)
    from pipeline.stories import Known

    known = [Known(a.exact_id, T, a.text)]
    assert match(near, T + timedelta(hours=3), known) == a.exact_id
    assert match(near, T + timedelta(hours=49), known) is None  # beyond the horizon
    assert match(other, T, known) is None


def test_copies_count_once_and_redelivery_changes_nothing(engine: Engine) -> None:
    store = SqlStore(engine)
    batch = [
        item("r-1", TITLE, source="reuters"),
        item("b-1", TITLE, source="bloomberg", minute=1),
        item("d-1", f"UPDATE 1-{TITLE}", source="dowjones", minute=2),
        item("w-1", "Regulators widen the probe into Acme Corp's revenue recognition", minute=3),
        item("o-1", "Acme Corp opens a new plant in Ohio", minute=4, neg=False),
    ]
    assert len(store.write_batch(batch)) == 5
    assert story_count(engine) == 2
    assert totals(engine) == (5, 2, 1)
    assert totals(engine, "source:bloomberg") == (1, 1, 1)  # a story counts once per key
    assert totals(engine, "entity:ACME") == (5, 2, 1)
    store.write_batch(batch)  # redelivery
    assert totals(engine) == (5, 2, 1) and story_count(engine) == 2
    # a later copy in another batch joins the story
    store.write_batch([item("x-1", TITLE, source="ft", minute=30)])
    assert totals(engine) == (6, 2, 1)
    with engine.connect() as conn:
        ids = set(conn.execute(select(articles.c.story_id)).scalars())
    assert len(ids) == 2
    # the articles behind the series: one row per story with its copy count
    frame = query_articles(engine, "entity:ACME", limit=10, stories=True)
    assert sorted(frame["copies"]) == [1, 5]
    ev = top_negative(engine, "entity:ACME", T, T + timedelta(hours=1), k=5)
    assert len(ev) == 1 and ev[0]["copies"] == 5


@pytest.fixture
def pg_engine(pg_admin: Engine) -> Iterator[Engine]:
    from tests.conftest import _pg_database

    databases = _pg_database(pg_admin)
    url = next(databases)
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    databases.close()


def test_two_writers_on_postgresql_share_exact_copies(pg_engine: Engine) -> None:
    url = pg_engine.url.render_as_string(hide_password=False)
    engines = [make_engine(url), make_engine(url)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            barrier.wait()
            SqlStore(engines[k]).write_batch(
                [item(f"w{k}-{i}", TITLE, source=f"s{k}", minute=i) for i in range(3)]
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert not errors
    assert story_count(pg_engine) == 1
    assert totals(pg_engine) == (6, 1, 1)


def test_a_copy_burst_alone_does_not_fire_when_stories_are_counted(engine: Engine) -> None:
    """A week of one key at ~2 stories a minute (15 % negative), then one negative story that
    arrives as 45 copies over 15 minutes: counted as articles that is a spike, counted as
    stories it is one story more."""
    import numpy as np

    rng = np.random.default_rng(4)
    start = T - timedelta(days=7)
    burst_from = 7 * 1440
    rows = []
    for i in range(7 * 1440 + 15):
        n = int(rng.poisson(2.0))
        neg = int(rng.binomial(n, 0.15))
        copies = 3 if i >= burst_from else 0
        first = int(i == burst_from)
        rows.append(
            {
                "series_key": "entity:ACME",
                "bucket_start": start + timedelta(minutes=i),
                "n": n + copies,
                "n_neg": neg + copies,
                "n_neu": n - neg,
                "n_pos": 0,
                "score_sum": 0.0,
                "s_n": n + first,
                "s_neg": neg + first,
                "s_neu": n - neg,
                "s_pos": 0,
            }
        )
    with engine.begin() as conn:
        conn.execute(sentiment_series.insert(), rows)
    now = start + timedelta(minutes=7 * 1440 + 15)

    def fired(count: str) -> list[str]:
        lc = Lifecycle(
            SqlAlertStore(engine), AlertSettings(count=count), channels_for=lambda *_: []
        )
        return lc.tick(now).fired

    assert fired("stories") == []
    assert fired("articles") == ["entity:ACME"]
