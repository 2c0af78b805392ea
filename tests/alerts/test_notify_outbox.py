"""The outbox on SQLite and PostgreSQL (the ``engine`` fixture runs each test on both) against a
real local HTTP endpoint: outages, permanent failures, the dead state, unconfigured channels,
and interrupted deliveries — in-process and by killing a real delivering process.

Time is passed explicitly (``now=``) so retries become due without sleeping; the endpoint,
the databases and the delivering subprocess are real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.notify.base import Notifier, NotifyError
from alerts.notify.channels import build_notifiers
from alerts.notify.message import NotificationMessage, alert_payload
from alerts.notify.outbox import (
    Backoff,
    deliver_due,
    enqueue,
    outbox_counts,
    purge_delivered,
    requeue_dead,
)
from alerts.notify.settings import NotifySettings, WebhookChannel
from pipeline.store import make_engine
from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.store.schema import notifications
from tests.alerts.notify_fixtures import NOW, Receiver, free_port, insert_alert

SECRET = "outbox-hmac-secret-5150"
LATER = timedelta(days=1)  # beyond any backoff in these tests


def policy(**kw: Any) -> NotifySettings:
    base: dict[str, Any] = {"backoff_base_s": 1.0, "backoff_max_s": 60.0, "claim_timeout_s": 30.0}
    return NotifySettings(**{**base, **kw})


def webhook(rx: Receiver | str, name: str = "ops") -> dict[str, Notifier]:
    url = rx.url() if isinstance(rx, Receiver) else rx
    s = NotifySettings(
        channels=[WebhookChannel(name=name, url=url, secret=SecretStr(SECRET), timeout_s=5)]
    )
    return build_notifiers(s)


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(notifications).order_by(notifications.c.id))
        return [dict(r) for r in result.mappings()]


def enqueue_alerts(
    engine: Engine, count: int, channels: tuple[str, ...] = ("ops",), event: str = "firing"
) -> list[str]:
    keys: list[str] = []
    with SqlAlertStore(engine).transaction() as tx:
        for i in range(count):
            alert = insert_alert(tx, key=f"entity:K{i}")
            keys += enqueue(tx, alert["id"], event, alert_payload(alert), channels, NOW)
    return keys


# -- enqueue ----------------------------------------------------------------------------------


def test_enqueue_writes_one_row_per_channel_once(engine: Engine) -> None:
    with SqlAlertStore(engine).transaction() as tx:
        alert = insert_alert(tx)
        payload = alert_payload(alert, note=float("nan"), at=NOW)
        keys = enqueue(tx, alert["id"], "firing", payload, ["ops", "mail", "ops"], NOW)
        again = enqueue(tx, alert["id"], "firing", payload, ["ops", "mail"], NOW)
        r1 = enqueue(tx, alert["id"], "repeat", payload, ["ops"], NOW, seq="20260302T1415")
        r2 = enqueue(tx, alert["id"], "repeat", payload, ["ops"], NOW + timedelta(hours=1))
    aid = alert["id"]
    assert keys == again == [f"{aid}:firing:0:ops", f"{aid}:firing:0:mail"]
    assert r1 == [f"{aid}:repeat:20260302T1415:ops"]
    assert r2 == [f"{aid}:repeat:{int((NOW + timedelta(hours=1)).timestamp())}:ops"]
    stored = rows(engine)
    assert [r["idempotency_key"] for r in stored] == keys + r1 + r2
    first = stored[0]
    assert (first["status"], first["attempts"], first["next_attempt_at"]) == ("pending", 0, NOW)
    assert first["payload"]["evidence"]["n_neg"] == 21
    assert first["payload"]["note"] is None and first["payload"]["at"] == NOW.isoformat()
    assert first["payload"]["alert"]["started_at"] == (NOW - timedelta(minutes=15)).isoformat()


def test_enqueue_commits_or_vanishes_with_the_alert(engine: Engine) -> None:
    with pytest.raises(RuntimeError), SqlAlertStore(engine).transaction() as tx:
        alert = insert_alert(tx)
        enqueue(tx, alert["id"], "firing", alert_payload(alert), ["ops"], NOW)
        raise RuntimeError("the alert transaction fails")
    assert rows(engine) == []
    with SqlAlertStore(engine).transaction() as tx:
        with pytest.raises(NotifyError):
            enqueue(tx, 1, "exploded", {}, ["ops"], NOW)
        with pytest.raises(NotifyError):
            enqueue(tx, 1, "firing", {}, ["ops"], NOW.replace(tzinfo=None))


# -- delivery ---------------------------------------------------------------------------------


def test_endpoint_down_then_up_delivers_exactly_once_per_key(engine: Engine) -> None:
    keys = enqueue_alerts(engine, 3)
    port = free_port()  # nobody listens: the endpoint is down
    notifiers = webhook(f"http://127.0.0.1:{port}/hook")
    report = deliver_due(SqlAlertStore(engine), notifiers, policy(), now=NOW)
    assert (report.claimed, report.retrying, report.delivered) == (3, 3, 0)
    for r in rows(engine):
        assert r["status"] == "pending" and r["attempts"] == 1
        assert "ConnectError" in r["last_error"]
        assert NOW + timedelta(seconds=1) <= r["next_attempt_at"] <= NOW + timedelta(seconds=2)

    with Receiver(secret=SECRET, port=port, script=[503, 503, 503]) as rx:
        assert (
            deliver_due(SqlAlertStore(engine), notifiers, policy(), now=NOW).claimed == 0
        )  # not due yet
        t1 = NOW + timedelta(seconds=2)
        assert (
            deliver_due(SqlAlertStore(engine), notifiers, policy(), now=t1).retrying == 3
        )  # 503: still down
        assert all("HTTP 503" in r["last_error"] for r in rows(engine))
        t2 = t1 + timedelta(seconds=5)
        assert deliver_due(SqlAlertStore(engine), notifiers, policy(), now=t2).delivered == 3  # up
        assert deliver_due(SqlAlertStore(engine), notifiers, policy(), now=t2 + LATER).claimed == 0
    assert all(r.signature_ok for r in rx.requests)
    assert rx.accepted() == {k: 1 for k in keys}
    assert rx.received() == {k: 2 for k in keys}
    for r in rows(engine):
        assert (r["status"], r["attempts"], r["delivered_at"]) == ("delivered", 3, t2)
    assert outbox_counts(SqlAlertStore(engine)) == {"pending": 0, "delivered": 3, "dead": 0}


def test_permanent_error_is_dead_at_once(engine: Engine) -> None:
    (key,) = enqueue_alerts(engine, 1)
    with Receiver(secret=SECRET, default=400) as rx:
        report = deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=NOW)
        deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=NOW + LATER)
    assert report.dead == 1 and rx.received() == {key: 1}
    (r,) = rows(engine)
    assert (r["status"], r["attempts"]) == ("dead", 1) and "HTTP 400" in r["last_error"]


def test_dead_after_max_attempts_then_requeued(engine: Engine) -> None:
    (key,) = enqueue_alerts(engine, 1)
    p = policy(max_attempts=3)
    with Receiver(secret=SECRET, default=503) as rx:
        t = NOW
        for _ in range(5):
            deliver_due(SqlAlertStore(engine), webhook(rx), p, now=t)
            t += timedelta(minutes=5)
        assert rx.received() == {key: 3}
        (r,) = rows(engine)
        assert (r["status"], r["attempts"]) == ("dead", 3) and "HTTP 503" in r["last_error"]

        rx.default = 200
        assert requeue_dead(SqlAlertStore(engine), now=t) == 1
        assert deliver_due(SqlAlertStore(engine), webhook(rx), p, now=t).delivered == 1
    assert rx.accepted() == {key: 1}
    assert rows(engine)[0]["status"] == "delivered"
    assert purge_delivered(SqlAlertStore(engine), t + timedelta(seconds=1)) == 1
    assert rows(engine) == []


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after(engine: Engine) -> None:
    b = Backoff(policy(backoff_base_s=30, backoff_max_s=3600, max_attempts=8))
    for attempt, floor in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (20, 3600)]:
        for _ in range(20):
            assert floor <= b.delay(attempt) <= floor + 30
    assert b.delay(1, retry_after_s=900) == 900 and b.delay(1, retry_after_s=1e9) == 3600
    assert not b.exhausted(7) and b.exhausted(8)

    enqueue_alerts(engine, 1)
    with Receiver(default=429, retry_after="600") as rx:
        deliver_due(SqlAlertStore(engine), webhook(rx), policy(backoff_max_s=3600), now=NOW)
    (r,) = rows(engine)
    assert r["next_attempt_at"] >= NOW + timedelta(seconds=600)


def test_unconfigured_channel_waits_pending_then_delivers(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue_alerts(engine, 1, channels=("ops", "retired"))
    with Receiver(secret=SECRET) as rx:
        report = deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=NOW)
        deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=NOW + LATER)
        assert (report.delivered, report.unconfigured) == (1, 1)
        waiting = next(r for r in rows(engine) if r["channel"] == "retired")
        assert (waiting["status"], waiting["attempts"]) == ("pending", 0)
        assert "'retired' is not configured" in waiting["last_error"]
        assert caplog.text.count("wait for channel 'retired'") == 1  # said once, not each tick

        back = deliver_due(SqlAlertStore(engine), webhook(rx, "retired"), policy(), now=NOW + LATER)
    assert (back.delivered, back.unconfigured) == (1, 0)  # "ops" was delivered already
    assert sorted(rx.accepted().values()) == [1, 1]


class _Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in finsentry catches it."""


class CrashAfterSend:
    """Sends for real, then 'dies' before the outbox can record the send (on call ``at``)."""

    def __init__(self, inner: Notifier, at: int) -> None:
        self.name, self._inner, self._at, self.calls = inner.name, inner, at, 0

    def send(self, message: NotificationMessage) -> None:
        self.calls += 1
        self._inner.send(message)
        if self.calls == self._at:
            raise _Crash


def test_interrupted_batch_loses_nothing_and_resends_under_the_same_key(
    engine: Engine, db_url: str
) -> None:
    keys = enqueue_alerts(engine, 5)
    with Receiver(secret=SECRET) as rx:
        crashing = CrashAfterSend(webhook(rx)["ops"], at=2)
        with pytest.raises(_Crash):
            deliver_due(SqlAlertStore(engine), {"ops": crashing}, policy(), now=NOW)
        engine.dispose()
        assert [r["status"] for r in rows(engine)].count("delivered") == 1

        fresh = make_engine(db_url)  # "restart": a new process, a new engine
        try:
            report = deliver_due(SqlAlertStore(fresh), webhook(rx), policy(), now=NOW)
        finally:
            fresh.dispose()
    assert report.delivered == 4
    assert all(r["status"] == "delivered" for r in rows(engine))
    assert set(rx.received()) == set(keys)  # nothing under a key the outbox doesn't know
    assert rx.received()[keys[1]] == 2 and sum(rx.received().values()) == 6
    resent = [r.body for r in rx.requests if r.key == keys[1]]
    assert resent[0] == resent[1]  # the same message, byte for byte


def test_notifier_bug_is_retried_and_the_rest_of_the_batch_goes_on(engine: Engine) -> None:
    keys = enqueue_alerts(engine, 3)

    class Flaky:
        name = "ops"

        def __init__(self, inner: Notifier) -> None:
            self.inner, self.calls = inner, 0

        def send(self, message: NotificationMessage) -> None:
            self.calls += 1
            if self.calls == 1:
                raise KeyError("a bug")
            self.inner.send(message)

    with Receiver(secret=SECRET) as rx:
        report = deliver_due(
            SqlAlertStore(engine), {"ops": Flaky(webhook(rx)["ops"])}, policy(), now=NOW
        )
        assert (report.delivered, report.retrying) == (2, 1)
        deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=NOW + LATER)
    assert rx.accepted() == {k: 1 for k in keys}
    assert "KeyError" in rows(engine)[0]["last_error"]


def test_two_deliverers_at_once_send_each_key_once(engine: Engine) -> None:
    keys = enqueue_alerts(engine, 12)
    with Receiver(secret=SECRET, delay_s=0.03) as rx:
        p = policy(batch_size=3)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []
        sent: list[int] = []

        def run() -> None:
            try:
                barrier.wait()
                while (
                    report := deliver_due(SqlAlertStore(engine), webhook(rx), p, now=NOW)
                ).claimed:
                    sent.append(report.delivered)
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    assert rx.received() == {k: 1 for k in keys} and sum(sent) == 12


CHILD = textwrap.dedent(
    """
    import sys
    from alerts.notify.channels import build_notifiers
    from alerts.notify.outbox import deliver_due
    from alerts.notify.settings import NotifySettings, WebhookChannel
    from pipeline.store import make_engine
    from pipeline.store.alerts_sql import SqlAlertStore

    url, hook, secret = sys.argv[1:4]
    s = NotifySettings(
        channels=[WebhookChannel(name="ops", url=hook, secret=secret, timeout_s=5)],
        claim_timeout_s=30,
    )
    deliver_due(SqlAlertStore(make_engine(url)), build_notifiers(s), s)
    """
)


def test_killed_deliverer_mid_send_loses_nothing(engine: Engine, db_url: str) -> None:
    """A real process is SIGKILLed while its second request is on the wire; after the claim
    times out, a new deliverer sends everything it had claimed — the interrupted one again,
    under the same key — and each key is accepted exactly once."""
    start = datetime.now(UTC)
    with SqlAlertStore(engine).transaction() as tx:
        keys: list[str] = []
        for i in range(4):
            alert = insert_alert(tx, key=f"entity:K{i}", now=start)
            keys += enqueue(tx, alert["id"], "firing", alert_payload(alert), ["ops"], start)
    with Receiver(secret=SECRET, hang_on=1) as rx:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, db_url, rx.url(), SECRET],
            env=env,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while len(rx.requests) < 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
        assert len(rx.requests) == 2, child.stderr.read().decode() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stderr:
            child.stderr.close()
        rx.release.set()

        state = {r["idempotency_key"]: r for r in rows(engine)}
        assert state[keys[0]]["status"] == "delivered"
        assert all(state[k]["status"] == "pending" for k in keys[1:])  # claimed, not lost

        now = datetime.now(UTC)
        assert (
            deliver_due(SqlAlertStore(engine), webhook(rx), policy(), now=now).claimed == 0
        )  # still claimed
        report = deliver_due(
            SqlAlertStore(engine), webhook(rx), policy(), now=now + timedelta(seconds=31)
        )
    assert report.delivered == 3
    assert all(r["status"] == "delivered" for r in rows(engine))
    assert rx.accepted() == {k: 1 for k in keys}
    assert rx.received()[keys[1]] == 2 and set(rx.received()) == set(keys)


def test_secrets_stay_out_of_last_error_and_logs(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    token = "T0KEN-in-the-slack-url-31337"
    password = "smtp-pa55-31337"
    caplog.set_level("DEBUG")
    enqueue_alerts(engine, 1, channels=("slack", "mail"))
    with Receiver(default=500) as rx:
        s = NotifySettings.model_validate(
            {
                "channels": [
                    {"type": "slack", "name": "slack", "webhook_url": rx.url(f"/s/{token}")},
                    {
                        "type": "email",
                        "name": "mail",
                        "host": "127.0.0.1",
                        "port": free_port(),
                        "username": "u",
                        "password": password,
                        "from_addr": "a@example.org",
                        "to_addrs": ["b@example.org"],
                    },
                ],
                "max_attempts": 1,
            }
        )
        report = deliver_due(SqlAlertStore(engine), build_notifiers(s), s, now=NOW)
    assert report.dead == 2
    stored = " ".join(str(r) for r in rows(engine))
    assert "HTTP 500" in stored
    for secret in (token, password):
        assert secret not in stored and secret not in caplog.text
