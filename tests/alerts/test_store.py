"""The alert store's contract, on every implementation: the in-memory fake, SQLite and PostgreSQL.

The lifecycle tests exercise the stores through the lifecycle; these pin down the operations
the lifecycle relies on but rarely reaches — a second open alert for one fingerprint, a unit of
work that fails, the lease's renew/expire rules, the outbox's claim/finish/release — so the fake
cannot quietly drift from the SQL stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.store import AlertConflict, AlertStore
from tests.alerts.notify_fixtures import insert_alert
from tests.alerts.series_fixtures import backend
from tests.conftest import _pg_database

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
S = timedelta(seconds=1)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    if request.param == "postgresql":
        urls = _pg_database(request.getfixturevalue("pg_admin"))
        url = next(urls)
    else:
        urls, url = iter(()), f"sqlite:///{tmp_path}/finsentry.db"
    be = backend(request.param, url)
    yield be.store
    be.engine.dispose()
    for _ in urls:  # drops the PostgreSQL database
        pass


def test_one_open_alert_per_fingerprint_and_a_failed_unit_leaves_nothing(
    store: AlertStore,
) -> None:
    with store.transaction() as tx:
        first = insert_alert(tx, now=T0)
    with pytest.raises(AlertConflict), store.transaction() as tx:
        insert_alert(tx, now=T0 + S)
    with pytest.raises(RuntimeError), store.transaction() as tx:
        other = insert_alert(tx, key="entity:OTHER", now=T0)
        tx.enqueue([_row(other["id"], "k1")])
        raise RuntimeError("the unit fails")
    with store.transaction() as tx:
        assert [a["id"] for a in tx.list_alerts()] == [first["id"]]
        assert tx.notifications() == []
        assert tx.firing_alert("neg_spike:entity:ACME") is not None
        tx.update_alert(first["id"], {"status": "resolved", "resolved_at": T0 + 60 * S})
    with store.transaction() as tx:  # resolved: the fingerprint may open again
        again = insert_alert(tx, now=T0 + 120 * S)
        assert tx.ack_alert(again["id"], "oncall", T0) is True
        assert tx.ack_alert(again["id"], "someone", T0) is False
        assert tx.ack_alert(10_000, "someone", T0) is None
        periods = tx.alert_periods(["entity:ACME"], "neg_spike")
    assert sorted(periods["entity:ACME"], key=lambda p: p[0]) == [
        (T0 - timedelta(minutes=15), T0 + 60 * S),
        (T0 + 120 * S - timedelta(minutes=15), None),
    ]


def test_lease_take_renew_expire_release(store: AlertStore) -> None:
    with store.transaction() as tx:
        assert tx.acquire_lease("alerts", "a", T0, T0 + 30 * S)
        assert not tx.acquire_lease("alerts", "b", T0 + S, T0 + 31 * S)
        assert tx.acquire_lease("alerts", "a", T0 + 20 * S, T0 + 50 * S)  # renewal
        assert not tx.acquire_lease("alerts", "b", T0 + 50 * S, T0 + 80 * S)  # not yet expired
        assert tx.acquire_lease("alerts", "b", T0 + 51 * S, T0 + 81 * S)  # expired: taken
        assert tx.lease("alerts") == ("b", T0 + 81 * S)
        tx.release_lease("alerts", "a")  # not a's any more: nothing happens
        assert tx.lease("alerts") == ("b", T0 + 81 * S)
        tx.release_lease("alerts", "b")
        assert tx.lease("alerts") is None


def test_silences_are_time_boxed(store: AlertStore) -> None:
    with store.transaction() as tx:
        sid = tx.add_silence({"series_key": "entity:*"}, T0, T0 + 60 * S, "known", "me")
        assert [s["id"] for s in tx.active_silences(T0 + 59 * S)] == [sid]
        assert tx.active_silences(T0 + 60 * S) == []
        assert tx.expire_silence(sid, T0 + 10 * S) is True
        assert tx.expire_silence(sid, T0 + 11 * S) is False
        assert tx.active_silences(T0 + 10 * S) == []


def _row(alert_id: int, key: str, channel: str = "ops", at: datetime = T0) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "event": "firing",
        "idempotency_key": key,
        "payload": {"n": 1},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def test_outbox_claim_finish_release_and_housekeeping(store: AlertStore) -> None:
    with store.transaction() as tx:
        a = insert_alert(tx, now=T0)["id"]
        tx.enqueue([_row(a, "k1"), _row(a, "k2", at=T0 + S), _row(a, "k3", "gone")])
        tx.enqueue([_row(a, "k1")])  # the same key again: skipped
        assert [n["idempotency_key"] for n in tx.notifications()] == ["k1", "k2", "k3"]
        assert tx.mark_unconfigured(["ops"], "no {channel}") == {"gone": (1, 1)}
        assert tx.mark_unconfigured(["ops"], "no {channel}") == {"gone": (1, 0)}
    with store.transaction() as tx:
        claimed = tx.claim(["ops"], 10, T0 + S, T0 + 300 * S)
        assert [(c.idempotency_key, c.attempts) for c in claimed] == [("k1", 1), ("k2", 1)]
        assert tx.claim(["ops"], 10, T0 + 2 * S, T0 + 300 * S) == []  # claimed: invisible
        k1, k2 = claimed
        tx.finish(k1, {"status": "delivered", "delivered_at": T0 + 2 * S}, any_claim=True)
        tx.release(k2, T0 + 3 * S, uncount=True)
    with store.transaction() as tx:
        [again] = tx.claim(["ops"], 10, T0 + 3 * S, T0 + 300 * S)
        assert (again.idempotency_key, again.attempts) == ("k2", 1)
        tx.finish(k2, {"status": "dead"}, any_claim=False)  # a stale claim: ignored
        tx.finish(again, {"status": "dead", "last_error": "x"}, any_claim=False)
        assert tx.outbox_counts() == {"delivered": 1, "dead": 1, "pending": 1}
        assert tx.requeue_dead(T0 + 4 * S, channel="ops") == 1
        assert tx.purge_delivered(T0 + 3 * S) == 1
        states = {n["idempotency_key"]: (n["status"], n["attempts"]) for n in tx.notifications()}
    assert states == {"k2": ("pending", 0), "k3": ("pending", 0)}
