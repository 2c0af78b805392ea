"""The Prometheus side: every instrument finsentry promises is on the default registry and in
the exposition, the model-info labels, the lag ``/health`` reads back from the gauge the
consumer loop sets, and the alert counters moving when the real lifecycle, outbox and lease
act on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from alerts.lease import Lease
from alerts.lifecycle import RULE, Lifecycle
from alerts.notify.channels import build_notifiers
from alerts.notify.outbox import deliver_due
from consumers.metrics import CONSUMER_LAG
from pipeline import metrics
from pipeline.store.alerts_sql import SqlAlertStore
from tests.alerts.notify_fixtures import Receiver
from tests.alerts.series_fixtures import (
    ALERTS,
    SECRET,
    SPIKE_KEY,
    SPIKE_START,
    World,
    notify_settings,
    write_world,
)

DAY = timedelta(days=1)


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_every_instrument_is_exposed() -> None:
    body, content_type = metrics.exposition()
    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in metrics.INSTRUMENTS:
        assert f"# TYPE {name} " in text, name
    assert "# TYPE finsentry_batch_seconds histogram" in text
    assert "# TYPE finsentry_consumer_lag gauge" in text


def test_model_info_carries_the_version() -> None:
    metrics.set_model_info("lexicon", "lexicon-test-9")
    assert metrics.model_version() == "lexicon-test-9"
    text = metrics.exposition()[0].decode()
    assert 'finsentry_model_info{name="lexicon",version="lexicon-test-9"} 1.0' in text


@pytest.fixture
def lag_labels() -> Iterator[list[tuple[str, str]]]:
    labels: list[tuple[str, str]] = []
    yield labels
    for topic, partition in labels:
        CONSUMER_LAG.remove(topic, partition)


def test_consumer_lag_sums_the_partitions(lag_labels: list[tuple[str, str]]) -> None:
    before = metrics.consumer_lag() or 0
    for partition, lag in (("0", 120), ("1", 7), ("2", 0)):
        CONSUMER_LAG.labels(topic="news.metrics-test", partition=partition).set(lag)
        lag_labels.append(("news.metrics-test", partition))
    assert metrics.consumer_lag() == before + 127
    assert sample("finsentry_consumer_lag", topic="news.metrics-test", partition="0") == 120


def test_alert_counters_follow_the_lifecycle_and_the_outbox(engine: Engine) -> None:
    world = write_world(engine, World(SPIKE_START))
    store = SqlAlertStore(engine)
    fired = sample("finsentry_alerts_fired_total", rule=RULE)
    resolved = sample("finsentry_alerts_resolved_total", rule=RULE)
    with Receiver(secret=SECRET, script=[503]) as rx:
        notify = notify_settings(rx.url(), log=False)
        channel = notify.channels[0].name
        before = {
            o: sample("finsentry_notifications_total", channel=channel, outcome=o)
            for o in ("attempt", "failure", "dead", "delivered")
        }
        lc = Lifecycle(store, ALERTS, channels_for=notify.channels_for)
        assert lc.tick(world.at(35)).fired == [SPIKE_KEY]
        assert sample("finsentry_alerts_fired_total", rule=RULE) == fired + 1
        notifiers = build_notifiers(notify)
        # the endpoint answers 503 once (a failure, retried later), then takes it
        assert deliver_due(store, notifiers, notify, now=world.at(36)).retrying == 1
        assert deliver_due(store, notifiers, notify, now=world.at(36) + DAY).delivered == 1
        after = {
            o: sample("finsentry_notifications_total", channel=channel, outcome=o)
            for o in ("attempt", "failure", "dead", "delivered")
        }
        assert {o: after[o] - before[o] for o in after} == {
            "attempt": 2,
            "failure": 1,
            "dead": 0,
            "delivered": 1,
        }
    for m in range(world.spike_min, world.spike_min + 90):
        if lc.tick(world.at(m)).resolved:
            break
    assert sample("finsentry_alerts_resolved_total", rule=RULE) == resolved + 1
    assert sample("finsentry_alerts_fired_total", rule=RULE) == fired + 1


def test_a_permanent_failure_counts_as_dead(engine: Engine) -> None:
    world = write_world(engine, World(SPIKE_START))
    store = SqlAlertStore(engine)
    with Receiver(secret=SECRET, default=400) as rx:
        notify = notify_settings(rx.url(), log=False)
        channel = notify.channels[0].name
        dead = sample("finsentry_notifications_total", channel=channel, outcome="dead")
        lc = Lifecycle(store, ALERTS, channels_for=notify.channels_for)
        assert lc.tick(world.at(35)).fired == [SPIKE_KEY]
        assert deliver_due(store, build_notifiers(notify), notify, now=world.at(36)).dead == 1
    assert sample("finsentry_notifications_total", channel=channel, outcome="dead") == dead + 1


def test_lease_gauge_is_one_only_while_held(engine: Engine) -> None:
    store = SqlAlertStore(engine)
    a = Lease(store, "alerts", ttl_s=30, holder="daemon-a")
    b = Lease(store, "alerts", ttl_s=30, holder="daemon-b")
    t0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert a.acquire(t0)
    assert sample("finsentry_detector_lease_held") == 1
    a.release()
    assert sample("finsentry_detector_lease_held") == 0
    assert b.acquire(t0 + timedelta(seconds=1))  # another daemon takes over
    assert sample("finsentry_detector_lease_held") == 1
    assert not a.acquire(t0 + timedelta(seconds=2))  # the standby finds it taken
    assert sample("finsentry_detector_lease_held") == 0
