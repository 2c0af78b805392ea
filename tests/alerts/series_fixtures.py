"""A stored world for the lifecycle, lease, CLI and scheduler tests: synthetic 1-minute series
written straight into ``sentiment_series``, a planted negative episode on one key, and a few real
negative articles (through :class:`pipeline.store.SqlStore`) inside it for the evidence.

The keys: ``entity:ACME`` (the episode), ``entity:QUIET`` and ``topic:earnings`` (steady all
along) — about 2 articles a minute, ~17 % negative, for three days — and, in :func:`write_world`
with ``newcomer=True``, ``entity:NEWCO``, which appears only at the episode with a burst of
negatives (no history: it must not fire). Every number is drawn from fixed seeds, so each test
sees exactly the same counts on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from alerts.config import AlertSettings
from alerts.memory import MemoryAlertStore
from alerts.notify.settings import LogChannel, NotifySettings, WebhookChannel
from alerts.store import AlertStore
from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.store import SqlStore
from pipeline.store.schema import alerts, notifications, sentiment_series

MIN = timedelta(minutes=1)
SPIKE_KEY = "entity:ACME"
QUIET_KEYS = ("entity:QUIET", "topic:earnings")
NEW_KEY = "entity:NEWCO"
SECRET = "lifecycle-hmac-secret-2718"

# The fixed episode used where the clock can be passed in: 2025-06-04 10:00 UTC for 90 minutes.
SPIKE_START = datetime(2025, 6, 4, 10, 0, tzinfo=UTC)
SPIKE_MIN = 90
HISTORY = timedelta(days=3)
AFTER = timedelta(minutes=90)  # steady minutes after the episode

# Lifecycle knobs small enough to walk through in a few ticks; the detector keeps its defaults.
ALERTS = AlertSettings(resolve_after_windows=3, repeat_interval_min=10)


@dataclass(frozen=True)
class World:
    """Where the episode is; ticks are expressed relative to its start."""

    spike_start: datetime
    spike_min: int = SPIKE_MIN

    @property
    def spike_end(self) -> datetime:
        return self.spike_start + self.spike_min * MIN

    @property
    def first(self) -> datetime:
        return self.spike_start - HISTORY

    @property
    def last(self) -> datetime:  # exclusive
        return self.spike_end + AFTER

    def at(self, minutes: float) -> datetime:
        """``spike_start + minutes`` (negative: before the episode)."""
        return self.spike_start + timedelta(minutes=minutes)


def draw_rows(
    key: str,
    start: datetime,
    minutes: int,
    *,
    rate: float,
    share: float,
    seed: int,
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate, minutes)
    neg = rng.binomial(n, share)
    pos = rng.binomial(n - neg, 0.5)
    return [
        {
            "series_key": key,
            "bucket_start": start + i * MIN,
            "n": int(n[i]),
            "n_neg": int(neg[i]),
            "n_neu": int(n[i] - neg[i] - pos[i]),
            "n_pos": int(pos[i]),
            "score_sum": float(pos[i] - neg[i]) * 0.8,
            # every synthetic article is its own story
            "s_n": int(n[i]),
            "s_neg": int(neg[i]),
            "s_neu": int(n[i] - neg[i] - pos[i]),
            "s_pos": int(pos[i]),
        }
        for i in range(minutes)
        if n[i] > 0
    ]


@functools.cache
def series_rows(world: World, *, newcomer: bool = False) -> list[dict[str, Any]]:
    """All series rows of the world: steady keys, the episode on ACME, optionally NEWCO.
    (Cached: the rows are only read.)"""
    total = int((world.last - world.first) / MIN)
    before = int((world.spike_start - world.first) / MIN)
    rows: list[dict[str, Any]] = []
    for i, key in enumerate(QUIET_KEYS):
        rows += draw_rows(key, world.first, total, rate=2.0, share=0.17, seed=10 + i)
    rows += draw_rows(SPIKE_KEY, world.first, before, rate=2.0, share=0.17, seed=20)
    # the episode: twice the volume, 60 % negative (3.5× the baseline share)
    rows += draw_rows(SPIKE_KEY, world.spike_start, world.spike_min, rate=4.0, share=0.6, seed=21)
    rows += draw_rows(
        SPIKE_KEY,
        world.spike_end,
        int((world.last - world.spike_end) / MIN),
        rate=2.0,
        share=0.17,
        seed=22,
    )
    if newcomer:  # a key first seen during the episode, all of it negative news
        rows += draw_rows(NEW_KEY, world.spike_start, world.spike_min, rate=4.0, share=0.7, seed=30)
    return rows


def negative_articles(world: World, count: int = 4) -> list[ScoredArticle]:
    """Real articles about ACME inside the episode, with the words that made them negative."""
    titles = [
        ("ACME accused of accounting fraud by short seller", (("fraud", 0.61), ("accused", 0.3))),
        ("Regulator opens probe into ACME fraud claims", (("probe", 0.5), ("fraud", 0.42))),
        ("ACME shares plunge as lawsuit widens", (("plunge", 0.55), ("lawsuit", 0.35))),
        ("ACME suppliers halt shipments amid fraud probe", (("halt", 0.4), ("fraud", 0.33))),
        ("Analysts slash ACME targets after probe news", (("slash", 0.44), ("probe", 0.2))),
    ]
    out = []
    for i, (title, why) in enumerate(titles[:count]):
        p_neg = 0.95 - 0.05 * i
        out.append(
            ScoredArticle(
                article=Article(
                    id=f"acme-{i}",
                    title=title,
                    body=None,
                    url=f"https://news.example/acme/{i}",
                    source="wire",
                    lang="en",
                    published_at=world.at(20 + i),
                ),
                prediction=Prediction.from_probs(p_neg, 1 - p_neg - 0.01, 0.01, why),
                model_version="test-lexicon",
                entities=("ACME",),
            )
        )
    return out


def write_world(engine: Engine, world: World, *, newcomer: bool = False) -> World:
    """Write the series, then the real ACME articles (their series increments add on top)."""
    rows = series_rows(world, newcomer=newcomer)
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(sentiment_series), rows[i : i + 5000])
    SqlStore(engine, entity_topic_series=False).write_batch(negative_articles(world))
    return world


def notify_settings(url: str | None = None, *, log: bool = True) -> NotifySettings:
    """A signed webhook channel ``hook`` (when ``url`` is given) and the ``log`` channel."""
    channels: list[Any] = []
    if url is not None:
        channels.append(WebhookChannel(name="hook", url=url, secret=SecretStr(SECRET), timeout_s=5))
    if log:
        channels.append(LogChannel(name="log"))
    return NotifySettings(channels=channels, backoff_base_s=1.0, claim_timeout_s=30.0)


def write_config(path: Path, url: str) -> str:
    """A settings file with the signed webhook channel ``hook`` and the log channel."""
    path.write_text(
        f"""
[[notify.channels]]
type = "webhook"
name = "hook"
url = "{url}"
secret = "{SECRET}"
timeout_s = 5

[[notify.channels]]
type = "log"
name = "log"
"""
    )
    return str(path)


def live_world(engine: Engine) -> World:
    """For code that reads the wall clock: the episode started 30 minutes ago and goes on (its
    articles are 10 to 7 minutes old)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return write_world(engine, World(now - 30 * MIN))


def alert_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(alerts).order_by(alerts.c.id)).mappings()]


def outbox(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(notifications).order_by(notifications.c.id))
        return [dict(r) for r in result.mappings()]


def events(engine: Engine, alert_id: int | None = None) -> list[tuple[str, str]]:
    """``(event, channel)`` of every outbox row (of one alert), in order."""
    return [
        (r["event"], r["channel"])
        for r in outbox(engine)
        if alert_id is None or r["alert_id"] == alert_id
    ]


def keys_of(items: Sequence[dict[str, Any]]) -> list[str]:
    return [str(i["series_key"]) for i in items]


@dataclass
class Backend:
    """An alert store under test, with the database that holds the world's series and
    articles. On ``sqlite``/``postgresql`` the store is the SQL one on that database; on
    ``memory`` it is :class:`alerts.memory.MemoryAlertStore`, fed the same series, while the
    evidence articles still come from a SQLite file (they are not the alert store's business).
    """

    name: str
    engine: Engine
    store: AlertStore

    def lookup(self, key: str, start: datetime, end: datetime, k: int) -> list[dict[str, Any]]:
        from pipeline.query import top_negative

        return top_negative(self.engine, key, start, end, k)

    def write_world(self, world: World, *, newcomer: bool = False) -> World:
        write_world(self.engine, world, newcomer=newcomer)
        if isinstance(self.store, MemoryAlertStore):
            with self.engine.connect() as conn:
                rows = conn.execute(select(sentiment_series)).mappings().all()
            self.store.add_series(dict(r) for r in rows)
        return world

    def insert_series(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sentiment_series), rows)
        if isinstance(self.store, MemoryAlertStore):
            self.store.add_series(rows)

    def alert_rows(self) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return sorted(tx.list_alerts(), key=lambda a: a["id"])

    def outbox(self) -> list[dict[str, Any]]:
        with self.store.transaction() as tx:
            return tx.notifications()

    def events(self, alert_id: int | None = None) -> list[tuple[str, str]]:
        return [
            (r["event"], r["channel"])
            for r in self.outbox()
            if alert_id is None or r["alert_id"] == alert_id
        ]


def backend(name: str, url: str) -> Backend:
    """A :class:`Backend` on a fresh database at ``url`` (migrated to head)."""
    from pipeline.store import make_engine, upgrade
    from pipeline.store.alerts_sql import SqlAlertStore

    engine = make_engine(url)
    upgrade(engine)
    store: AlertStore = MemoryAlertStore() if name == "memory" else SqlAlertStore(engine)
    return Backend(name, engine, store)
