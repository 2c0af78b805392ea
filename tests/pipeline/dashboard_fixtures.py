"""A stored world for the dashboard and ``finsentry plot`` tests: the alert tests' series world
(a planted negative episode on ``entity:ACME``) with one alert opened by the real lifecycle, as
the daemon builds it, plus a few more ACME stories — one of them a headline that carries HTML.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from alerts.lifecycle import Lifecycle
from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.query import top_negative
from pipeline.store import SqlStore
from pipeline.store.alerts_sql import SqlAlertStore
from tests.alerts.series_fixtures import ALERTS, SPIKE_KEY, World, notify_settings, write_world

EVIL_TITLE = "ACME <img src=x onerror=\"document.title='pwned'\"> probe <b>widens</b>"


def open_alert(engine: Engine, world: World, minutes: float = 35) -> list[str]:
    """One detection tick ``minutes`` into the episode; returns the keys that fired."""
    lifecycle = Lifecycle(
        SqlAlertStore(engine),
        ALERTS,
        channels_for=notify_settings(log=True).channels_for,
        article_lookup=lambda k, s, e, n: top_negative(engine, k, s, e, n),
    )
    return lifecycle.tick(world.at(minutes)).fired


def evil_article(at: datetime) -> ScoredArticle:
    return ScoredArticle(
        article=Article(
            id="acme-evil",
            title=EVIL_TITLE,
            body=None,
            url="javascript:alert(1)",
            source="<script>src</script>",
            lang="en",
            published_at=at,
        ),
        prediction=Prediction.from_probs(0.9, 0.08, 0.02, (("probe", 0.5), ("<i>w</i>", 0.2))),
        model_version="test-lexicon",
        entities=("ACME",),
    )


def dashboard_world(engine: Engine, spike_start: datetime) -> World:
    """The world, the alert (asserted to fire on ACME alone) and the HTML headline, which
    lands in the same minute as the first evidence article (``spike_start + 20 min``)."""
    world = write_world(engine, World(spike_start))
    fired = open_alert(engine, world)
    assert fired == [SPIKE_KEY], fired
    SqlStore(engine, entity_topic_series=False).write_batch(
        [evil_article(world.at(20) + timedelta(seconds=30))]
    )
    return world
