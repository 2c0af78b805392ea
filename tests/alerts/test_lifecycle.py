"""The alert lifecycle on stored series, against every alert store: the in-memory fake, SQLite
and PostgreSQL (the ``b`` fixture runs each test on all three with the same assertions, so the
fake can't drift from the real stores). Quiet ticks stay quiet, a planted episode opens exactly
one alert with its evidence and its outbox rows, repeats follow the repeat interval and stop
when acknowledged, the alert resolves after K normal windows, silences keep an episode quiet,
and keys without history can't fire. Every tick gets an explicit ``now``; the series, the
articles behind the evidence, the outbox and the webhook endpoint that finally receives the
messages are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts import silences
from alerts.detect import Detection, Detector
from alerts.lifecycle import RULE, Lifecycle, TickReport, ack, fingerprint
from alerts.notify.channels import build_notifiers
from alerts.notify.outbox import deliver_due
from alerts.notify.settings import NotifySettings
from pipeline.errors import AlertError
from pipeline.query import series
from tests.alerts.notify_fixtures import Receiver
from tests.alerts.series_fixtures import (
    ALERTS,
    MIN,
    NEW_KEY,
    SECRET,
    SPIKE_KEY,
    SPIKE_START,
    Backend,
    World,
    backend,
    draw_rows,
    notify_settings,
)
from tests.conftest import _pg_database

EVIDENCE_KEYS = {
    "window_start",
    "window_end",
    "n",
    "n_neg",
    "share",
    "baseline_share",
    "baseline_n",
    "lift",
    "p_share",
    "z_share",
    "p_count",
    "top_articles",
    "top_words",
}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def b(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The alert store under test (see :class:`tests.alerts.series_fixtures.Backend`)."""
    if request.param == "postgresql":
        urls = _pg_database(request.getfixturevalue("pg_admin"))
        url = next(urls)
    else:
        urls, url = iter(()), f"sqlite:///{tmp_path}/finsentry.db"
    be = backend(request.param, url)
    yield be
    be.engine.dispose()
    for _ in urls:  # drops the PostgreSQL database
        pass


@pytest.fixture
def world(b: Backend) -> World:
    return b.write_world(World(SPIKE_START), newcomer=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET) as rx:
        yield rx


def lifecycle(b: Backend, notify: NotifySettings, detector: Detector | None = None) -> Lifecycle:
    """The lifecycle as the daemon builds it: evidence articles from the stored articles."""
    return Lifecycle(
        b.store,
        ALERTS,
        channels_for=notify.channels_for,
        article_lookup=b.lookup,
        detector=detector,
    )


def deliver(b: Backend, notify: NotifySettings, world: World, at: float) -> None:
    deliver_due(b.store, build_notifiers(notify), notify, now=world.at(at))


def test_episode_fires_once_repeats_until_acked_and_resolves(
    b: Backend, world: World, receiver: Receiver
) -> None:
    notify = notify_settings(receiver.url())
    lc = lifecycle(b, notify)
    for pattern in (["entity:ACMEX*"], ["topic:*"], ["rule=other_rule", "series_key=entity:*"]):
        silences.create(  # silences that match other alerts only
            b.store, silences.parse_matchers(pattern), timedelta(days=1), now=world.at(0)
        )

    report = lc.tick(world.at(35))
    assert report.fired == [SPIKE_KEY]  # not the newcomer, not the steady keys
    [alert] = b.alert_rows()
    assert alert["fingerprint"] == fingerprint(RULE, SPIKE_KEY)
    assert alert["status"] == "firing"
    assert alert["last_notified_at"] == world.at(35)
    ev = alert["evidence"]
    assert set(ev) >= EVIDENCE_KEYS
    assert (ev["window_start"], ev["window_end"]) == (
        world.at(20).isoformat(),
        world.at(35).isoformat(),
    )
    assert ev["n"] >= 20 and ev["share"] >= 3 * ev["baseline_share"]
    assert 0.14 < ev["baseline_share"] < 0.2 and ev["lift"] >= 3
    assert ev["p_share"] < ev["alpha"]
    # the evidence articles are the stored ones, most negative first, with their words
    assert [a["id"] for a in ev["top_articles"]] == ["acme-0", "acme-1", "acme-2", "acme-3"]
    assert ev["top_articles"][0]["title"] == "ACME accused of accounting fraud by short seller"
    assert ev["top_words"][0][0] == "fraud"
    assert {"probe", "plunge", "lawsuit"} <= {w for w, _ in ev["top_words"]}
    # one pending firing row per channel, in the alert's transaction
    rows = b.outbox()
    assert [(r["event"], r["channel"], r["status"]) for r in rows] == [
        ("firing", "hook", "pending"),
        ("firing", "log", "pending"),
    ]
    assert rows[0]["payload"]["evidence"]["lift"] == ev["lift"]
    # the same instant again (a retried job) changes nothing
    again = lc.tick(world.at(35))
    assert (again.fired, again.repeated) == ([], [])
    assert (b.alert_rows(), b.outbox()) == ([alert], rows)

    # still firing: the same alert, refreshed, repeated only after repeat_interval_min (10)
    for m, repeated in ((40, False), (45, True), (50, False)):
        report = lc.tick(world.at(m))
        assert report.fired == []
        assert report.repeated == ([SPIKE_KEY] if repeated else [])
    [alert] = b.alert_rows()
    assert alert["last_fired_at"] == world.at(50)
    assert alert["last_notified_at"] == world.at(45)
    assert b.events() == [
        ("firing", "hook"),
        ("firing", "log"),
        ("repeat", "hook"),
        ("repeat", "log"),
    ]

    # acknowledged: no more repeats, however long the episode lasts
    assert ack(b.store, alert["id"], "oncall", now=world.at(51)) is True
    assert ack(b.store, alert["id"], "someone-else", now=world.at(52)) is False
    for m in (55, 65):
        assert lc.tick(world.at(m)).repeated == []
    assert len(b.outbox()) == 4
    [alert] = b.alert_rows()
    assert (alert["acked_by"], alert["acked_at"]) == ("oncall", world.at(51))

    # after the episode (it ends at +90): resolved after K=3 consecutive normal windows
    trace: list[tuple[int, str, int]] = []
    for m in range(93, 140, 3):
        report = lc.tick(world.at(m))
        [alert] = b.alert_rows()
        trace.append((m, alert["status"], alert["normal_streak"]))
        if report.resolved:
            assert report.resolved == [SPIKE_KEY]
            break
    assert trace[-1][1] == "resolved", trace
    assert [s for _, _, s in trace[-3:]] == [1, 2, 3], trace
    # windows still holding a good part of the episode are not normal: the streak starts after
    first_normal = trace[-3][0]
    assert world.at(first_normal) - timedelta(minutes=15) >= world.spike_end - 3 * MIN
    assert alert["resolved_at"] == world.at(trace[-1][0])
    assert b.events()[-2:] == [("resolved", "hook"), ("resolved", "log")]

    # the resolved episode stays one alert; nothing more is queued
    lc.tick(world.at(trace[-1][0] + 3))
    assert len(b.alert_rows()) == 1
    assert len(b.outbox()) == 6

    # the receiver gets each message once, signed, in order
    deliver(b, notify, world, 200)
    assert [r["status"] for r in b.outbox()] == ["delivered"] * 6
    got = receiver.requests
    assert [r.json()["event"] for r in got] == ["firing", "repeat", "resolved"]
    assert all(r.signature_ok for r in got)
    assert set(receiver.received().values()) == {1}
    assert got[0].key == f"{alert['id']}:firing:0:hook"
    assert got[0].json()["evidence"]["top_articles"][0]["id"] == "acme-0"


def test_silenced_episode_sends_neither_firing_nor_resolved(b: Backend, world: World) -> None:
    notify = notify_settings("http://127.0.0.1:9/unused")
    sid = silences.create(
        b.store,
        silences.parse_matchers(["series_key=entity:ACME*"]),
        timedelta(days=1),
        comment="known event",
        now=world.at(-10),
    )
    lc = lifecycle(b, notify)
    report = lc.tick(world.at(35))
    assert (report.fired, report.silenced) == ([], [SPIKE_KEY])
    [alert] = b.alert_rows()  # the record is complete even when nobody is told
    assert alert["status"] == "firing" and alert["last_notified_at"] is None
    assert lc.tick(world.at(50)).repeated == []  # a repeat would be due; the silence holds
    resolved: list[str] = []
    for m in range(102, 140, 3):
        resolved += lc.tick(world.at(m)).resolved
        if resolved:
            break
    assert resolved == [SPIKE_KEY]
    assert b.alert_rows()[0]["status"] == "resolved"
    assert b.outbox() == []
    assert sid >= 1


def test_silence_that_ends_mid_episode_lets_the_alert_through(b: Backend, world: World) -> None:
    """Silences are time-boxed: once one expires, a still-firing alert is notified (as firing:
    nobody heard of it yet) and its resolve follows."""
    sid = silences.create(b.store, {"series_key": SPIKE_KEY}, timedelta(hours=1), now=world.at(0))
    lc = lifecycle(b, notify_settings())
    assert lc.tick(world.at(35)).silenced == [SPIKE_KEY]
    assert lc.tick(world.at(50)).repeated == []
    assert b.outbox() == []
    assert silences.expire(b.store, sid, now=world.at(55)) is True
    assert silences.expire(b.store, sid, now=world.at(56)) is False
    lc.tick(world.at(58))
    assert b.events() == [("firing", "log")]
    assert b.alert_rows()[0]["last_notified_at"] == world.at(58)
    for m in range(102, 140, 3):
        if lc.tick(world.at(m)).resolved:
            break
    sent = b.events()  # (a repeat may fall in between: the episode went on)
    assert sent[0] == ("firing", "log") and sent[-1] == ("resolved", "log")
    assert sent.count(("resolved", "log")) == 1


def test_quiet_keys_and_keys_without_history_never_fire(b: Backend, world: World) -> None:
    """Before the episode every key is tested and nothing fires. NEWCO appears with the
    episode, 70 % negative at 4 a minute: plenty of volume, no baseline — a start-up (or a new
    watchlist entry) must not page anyone."""
    lc = lifecycle(b, notify_settings())
    for m in (-24 * 60, -60, -1):
        report = lc.tick(world.at(m))
        assert report.keys_evaluated == 3  # the steady keys, all tested, none firing
        assert (report.fired, report.silenced) == ([], [])
    assert b.alert_rows() == [] and b.outbox() == []
    fired: list[str] = []
    evaluated: set[int] = set()
    for m in (15, 35, 85):
        report = lc.tick(world.at(m))
        fired += report.fired
        evaluated.add(report.keys_evaluated)
    assert set(fired) == {SPIKE_KEY}
    assert NEW_KEY not in {a["series_key"] for a in b.alert_rows()}
    assert 4 in evaluated  # the newcomer was evaluated, not skipped


def test_small_volumes_and_a_fresh_database_stay_quiet(b: Backend) -> None:
    """Start-up: an hour of history per key, one of them a burst of bad news; a tiny key that
    is all negative. Nothing fires."""
    start = SPIKE_START - timedelta(hours=1)
    rows = draw_rows("entity:FRESH", start, 60, rate=2.0, share=0.15, seed=1)
    rows += draw_rows("entity:FRESH2", start + 30 * MIN, 30, rate=3.0, share=0.9, seed=2)
    rows += draw_rows(
        "entity:TINY", start - timedelta(days=3), 3 * 1440 + 60, rate=0.05, share=0.9, seed=3
    )
    b.insert_series(rows)
    lc = lifecycle(b, notify_settings())
    for m in (-10, 0):
        report = lc.tick(SPIKE_START + m * MIN)
        assert report.fired == [] and report.silenced == []
    assert b.alert_rows() == []


def test_evidence_lookup_failure_does_not_lose_the_alert(b: Backend, world: World) -> None:
    def broken(key: str, *_: Any) -> list[dict[str, Any]]:
        raise AlertError("article index unavailable")

    notify = notify_settings()
    lc = Lifecycle(b.store, ALERTS, channels_for=notify.channels_for, article_lookup=broken)
    assert lc.tick(world.at(35)).fired == [SPIKE_KEY]
    ev = b.alert_rows()[0]["evidence"]
    assert ev["top_articles"] == [] and ev["top_words"] == []
    assert b.events() == [("firing", "log")]


class _Recording(Detector):
    """The real detector, remembering what it was asked and what it said."""

    def __init__(self) -> None:
        super().__init__(ALERTS.detector)
        self.calls: dict[str, tuple[Detection, dict[str, Any]]] = {}

    def evaluate(self, frame: Any, now: Any, **kw: Any) -> Detection:
        det = super().evaluate(frame, now, **kw)
        self.calls[kw["key"]] = (det, kw)
        return det


def test_a_live_tick_says_what_the_detector_says_on_the_full_history(b: Backend) -> None:
    """With more history than the baseline, the tick must load enough of it for every window
    the detector uses — the 30-minute confirmation window's baseline included."""
    first = SPIKE_START - timedelta(days=8)
    rows = draw_rows("entity:LONG", first, 8 * 1440 + 60, rate=2.0, share=0.17, seed=5)
    b.insert_series(rows)
    spy = _Recording()
    lc = lifecycle(b, notify_settings(), detector=spy)
    now = SPIKE_START + 30 * MIN
    report: TickReport = lc.tick(now)
    assert report.keys_evaluated == 1
    live, kw = spy.calls["entity:LONG"]
    stored = series(b.engine, "entity:LONG", first, now, fill=False)
    reference = Detector(ALERTS.detector).evaluate(
        stored[["n", "n_neg", "n_neu", "n_pos", "score_sum"]],
        now,
        key="entity:LONG",
        n_tests=kw["n_tests"],
        history_start=first,
    )
    assert live.as_dict() == reference.as_dict()


def test_evidence_words_leave_out_stop_words_numbers_and_the_entitys_names() -> None:
    from alerts.evidence import key_words, top_words

    tops = [
        {"explanation": [["Acme", 0.9], ["the", 0.8], ["probe", 0.7], ["$ACME", 0.6]]},
        {"explanation": [["Acme's", 0.5], ["12%", 0.5], [",", 0.4], ["subpoena", 0.3]]},
        {"explanation": [["Widgets", 0.5], ["probe", 0.2]]},
    ]
    names = key_words("entity:ACME/topic:litigation_regulation") | {"widgets"}
    assert names == {"acme", "widgets"}
    assert [w for w, _ in top_words(tops, exclude=names)] == ["probe", "subpoena"]
