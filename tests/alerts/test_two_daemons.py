"""The scheduler service and several detectors on one store: one alert per episode, each
notification delivered once.

* :class:`~alerts.service.AlertService` started for real (APScheduler, 1-second intervals) fires
  on the planted episode and delivers to a local webhook; its jobs coalesce and never overlap;
  ``stop()`` gives the lease back.
* Two services on one database: exactly one detects and delivers; when it stops, the other takes
  over at once.
* Two detectors whose ticks overlap anyway (a lease that ran out during a slow tick) still open
  one alert: the store's unique index decides, and the loser's tick carries on.
* Real processes on PostgreSQL: two concurrent ``finsentry alerts tick`` and two ``finsentry
  alerts run`` daemons, stopped with SIGTERM.

The services read the wall clock, so the episode is planted relative to now.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.config import AlertSettings
from alerts.lease import Lease
from alerts.lifecycle import Lifecycle, TickReport
from alerts.notify.channels import build_notifiers
from alerts.service import LEASE_NAME, AlertService
from pipeline.query import top_negative
from pipeline.store.alerts_sql import SqlAlertStore
from tests.alerts.notify_fixtures import Receiver
from tests.alerts.series_fixtures import (
    ALERTS,
    SECRET,
    SPIKE_KEY,
    SPIKE_START,
    World,
    alert_rows,
    events,
    live_world,
    notify_settings,
    outbox,
    write_config,
    write_world,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = AlertSettings(interval_s=1, deliver_interval_s=1, lease_ttl_s=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET) as rx:
        yield rx


def wait_for(what: str, cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def service(engine: Engine, url: str, holder: str) -> AlertService:
    notify = notify_settings(url)
    return AlertService(
        SqlAlertStore(engine),
        FAST,
        notify,
        build_notifiers(notify),
        article_lookup=lambda k, s, e, n: top_negative(engine, k, s, e, n),
        holder=holder,
    )


def delivered(engine: Engine, count: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = outbox(engine)
        return len(rows) == count and all(r["status"] == "delivered" for r in rows)

    return check


def assert_one_episode_told_once(engine: Engine, receiver: Receiver) -> None:
    [alert] = alert_rows(engine)
    assert alert["series_key"] == SPIKE_KEY and alert["status"] == "firing"
    assert events(engine) == [("firing", "hook"), ("firing", "log")]
    assert receiver.received() == {f"{alert['id']}:firing:0:hook": 1}
    assert all(r.signature_ok for r in receiver.requests)


# -- one service --------------------------------------------------------------------------------
def test_service_fires_delivers_and_gives_the_lease_back(
    engine: Engine, receiver: Receiver
) -> None:
    live_world(engine)
    svc = service(engine, receiver.url(), "svc-a")
    svc.start()
    try:
        svc.start()  # a second start is a no-op, not a second scheduler
        scheduler = svc._scheduler  # the jobs as APScheduler holds them
        assert scheduler is not None
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert set(jobs) == {"detect", "deliver"}
        for job in jobs.values():
            assert (job.coalesce, job.max_instances) == (True, 1)
            assert job.trigger.interval.total_seconds() == 1
        wait_for("the firing webhook", lambda: len(receiver.requests) >= 1)
        wait_for("both channels delivered", delivered(engine, 2))
        assert svc.lease.current_holder() == "svc-a"
    finally:
        svc.stop()
    assert svc.lease.current_holder() is None  # released, not left to expire
    assert_one_episode_told_once(engine, receiver)
    assert alert_rows(engine)[0]["evidence"]["top_articles"][0]["id"] == "acme-0"


# -- two services on one database ---------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_services_one_alert_and_a_hot_standby(engine: Engine, receiver: Receiver) -> None:
    live_world(engine)
    a = service(engine, receiver.url(), "daemon-a")
    b = service(engine, receiver.url(), "daemon-b")
    a.start()
    b.start()
    try:
        wait_for("both channels delivered", delivered(engine, 2))
        time.sleep(1.5)  # a few more detect and deliver runs of both
        leader, standby = (a, b) if a.lease.current_holder() == "daemon-a" else (b, a)
        assert leader.lease.current_holder() == leader.lease.holder
        assert_one_episode_told_once(engine, receiver)

        leader.stop()  # a clean stop releases the lease: the standby needn't wait for expiry
        wait_for(
            "the standby to take over", lambda: a.lease.current_holder() == standby.lease.holder, 5
        )
        time.sleep(1.2)
        assert_one_episode_told_once(engine, receiver)  # the new leader refreshes, no re-fire
    finally:
        a.stop()
        b.stop()
    assert a.lease.current_holder() is None


def test_overlapping_detectors_still_open_one_alert(engine: Engine) -> None:
    """Both ticks read "no open alert" before either inserts (the evidence lookup, which runs in
    between, waits for both): the unique index on open fingerprints lets one in, and the other
    tick neither fails nor sends anything."""
    world = write_world(engine, World(SPIKE_START))
    gate = threading.Barrier(2, timeout=10)

    def lookup(*_: Any) -> list[dict[str, Any]]:
        gate.wait()
        return []

    notify = notify_settings()
    ticks = [
        Lifecycle(
            SqlAlertStore(engine), ALERTS, channels_for=notify.channels_for, article_lookup=lookup
        )
        for _ in range(2)
    ]
    reports: list[TickReport] = []
    errors: list[BaseException] = []

    def run(lc: Lifecycle) -> None:
        try:
            reports.append(lc.tick(world.at(35)))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(lc,)) for lc in ticks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(r.fired for r in reports) == [[], [SPIKE_KEY]]
    assert len(alert_rows(engine)) == 1
    assert events(engine) == [("firing", "log")]


# -- real processes -----------------------------------------------------------------------------
def _env(db_url: str, config: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINSENTRY_")}
    env.update(FINSENTRY_STORE__URL=db_url, FINSENTRY_CONFIG=config, **extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_tick_processes_one_alert(
    engine: Engine, db_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    live_world(engine)
    env = _env(db_url, write_config(tmp_path / "f.toml", receiver.url()))
    procs = [
        subprocess.Popen(
            _cli("alerts", "tick"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p, *p.communicate(timeout=120)) for p in procs]
    fired: list[str] = []
    for p, out, err in results:
        if p.returncode == 0:
            fired += json.loads(out)["fired"]
        else:  # it ran while the other held the lease: told so, nothing done
            assert p.returncode == 2, err
            assert "another process holds the alert lease" in err
    assert fired == [SPIKE_KEY]
    assert_one_episode_told_once(engine, receiver)
    assert all(r["status"] == "delivered" for r in outbox(engine))
    assert Lease(SqlAlertStore(engine), LEASE_NAME, 60).current_holder() is None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_daemons_one_alert_and_a_clean_handover(
    engine: Engine, db_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    live_world(engine)
    env = _env(
        db_url,
        write_config(tmp_path / "f.toml", receiver.url()),
        FINSENTRY_ALERTS__INTERVAL_S="1",
        FINSENTRY_ALERTS__DELIVER_INTERVAL_S="1",
        FINSENTRY_ALERTS__LEASE_TTL_S="5",
    )
    procs = {
        p.pid: p
        for p in (
            subprocess.Popen(
                _cli("alerts", "run"),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        )
    }
    lease = Lease(SqlAlertStore(engine), LEASE_NAME, 60)

    def holder_pid() -> int | None:
        holder = lease.current_holder()
        return None if holder is None else int(holder.split(":")[1])

    try:
        wait_for("both channels delivered", delivered(engine, 2), 60)
        time.sleep(1.5)  # more detect and deliver runs of both daemons
        assert_one_episode_told_once(engine, receiver)

        leader = holder_pid()
        assert leader in procs
        [standby] = [pid for pid in procs if pid != leader]
        procs[leader].send_signal(signal.SIGTERM)
        _, err = procs[leader].communicate(timeout=30)
        assert procs[leader].returncode == 0, err
        wait_for("the standby to take over", lambda: holder_pid() == standby, 5)

        procs[standby].send_signal(signal.SIGTERM)
        _, err = procs[standby].communicate(timeout=30)
        assert procs[standby].returncode == 0, err
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    assert lease.current_holder() is None
    assert_one_episode_told_once(engine, receiver)
