"""The detector lease on SQLite and PostgreSQL: one holder at a time, renewal, expiry, release —
with the clock passed in — then a crowd of threads racing for an expired lease, and two real
processes on PostgreSQL contending for it for a few seconds without ever holding it at once.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from alerts.lease import Lease
from pipeline.errors import AlertError
from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.store.schema import leases

T0 = datetime(2025, 6, 4, 10, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(engine: Engine, name: str = "alerts") -> dict[str, Any] | None:
    with engine.connect() as conn:
        r = conn.execute(select(leases).where(leases.c.name == name)).mappings().first()
    return None if r is None else dict(r)


def test_one_holder_renewal_expiry_and_release(engine: Engine) -> None:
    a = Lease(SqlAlertStore(engine), "alerts", ttl_s=30, holder="daemon-a")
    b = Lease(SqlAlertStore(engine), "alerts", ttl_s=30, holder="daemon-b")
    assert a.current_holder(at(0)) is None

    assert a.acquire(at(0)) is True
    assert b.acquire(at(1)) is False
    assert a.current_holder(at(2)) == b.current_holder(at(2)) == "daemon-a"

    # renewal by the holder pushes the expiry and keeps the original acquisition time
    assert a.acquire(at(20)) is True
    assert row(engine) == {
        "name": "alerts",
        "holder": "daemon-a",
        "expires_at": at(50),
        "acquired_at": at(0),
    }
    assert b.acquire(at(40)) is False  # past the first expiry, not the renewed one
    assert b.acquire(at(50)) is False  # expiry is exclusive of its own instant

    # the holder stops renewing: after expiry the other takes over, and the old one can't
    assert b.acquire(at(51)) is True
    assert a.acquire(at(52)) is False
    assert a.current_holder(at(52)) == "daemon-b"
    assert row(engine) == {
        "name": "alerts",
        "holder": "daemon-b",
        "expires_at": at(81),
        "acquired_at": at(51),
    }
    assert b.current_holder(at(82)) is None  # expired, nobody renewed

    # release: only the holder's release counts, and the other may take it at once
    assert b.acquire(at(60)) is True
    a.release()  # not the holder: a no-op
    assert b.current_holder(at(61)) == "daemon-b"
    b.release()
    assert row(engine) is None
    assert a.acquire(at(61)) is True
    assert a.current_holder(at(62)) == "daemon-a"


def test_leases_are_named(engine: Engine) -> None:
    assert Lease(SqlAlertStore(engine), "alerts", 30, holder="x").acquire(at(0))
    assert Lease(SqlAlertStore(engine), "retention", 30, holder="y").acquire(at(0))
    assert not Lease(SqlAlertStore(engine), "alerts", 30, holder="y").acquire(at(1))


def test_a_naive_clock_is_refused_as_a_finsentry_error(engine: Engine) -> None:
    with pytest.raises(AlertError, match="lease 'alerts'"):
        Lease(SqlAlertStore(engine), "alerts", 30, holder="x").acquire(datetime(2025, 6, 4, 10, 0))


def test_a_crowd_racing_for_an_expired_lease_has_one_winner(engine: Engine) -> None:
    Lease(SqlAlertStore(engine), "alerts", ttl_s=30, holder="dead-daemon").acquire(at(0))
    crowd = [
        Lease(SqlAlertStore(engine), "alerts", ttl_s=30, holder=f"daemon-{i}") for i in range(8)
    ]
    barrier = threading.Barrier(len(crowd))
    won: dict[str, bool] = {}

    def race(lease: Lease) -> None:
        barrier.wait()
        won[lease.holder] = lease.acquire(at(31))

    threads = [threading.Thread(target=race, args=(lease,)) for lease in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [h for h, ok in won.items() if ok]
    assert len(won) == len(crowd) and len(winners) == 1
    assert crowd[0].current_holder(at(32)) == winners[0]


# A contender: hold the lease for a while (renewing), then release it, or stall past the TTL
# without renewing; print each span it held the lease as [start, end] in Unix seconds. A span
# starts when acquire() has returned True and ends just before release() is called, or at the
# expiry its last renewal set (now + ttl, the instant the database compares against): both ends
# conservative, so two overlapping spans would be a real fault.
CONTENDER = textwrap.dedent(
    """
    import json, random, sys, time
    from datetime import UTC, datetime
    from alerts.lease import Lease
    from pipeline.store import make_engine
    from pipeline.store.alerts_sql import SqlAlertStore

    url, holder, duration, ttl = sys.argv[1], sys.argv[2], float(sys.argv[3]), 0.5
    lease = Lease(SqlAlertStore(make_engine(url)), "race", ttl_s=ttl, holder=holder)
    rng = random.Random(holder)
    print("ready", flush=True)
    sys.stdin.readline()
    spans, since, expiry, tries = [], None, 0.0, 0
    stop = time.time() + duration
    while time.time() < stop:
        tries += 1
        asked = datetime.now(UTC)
        if lease.acquire(asked):
            if since is not None and asked.timestamp() > expiry:  # it had lapsed meanwhile
                spans.append([since, expiry])
                since = None
            if since is None:
                since = time.time()
            expiry = asked.timestamp() + ttl
            r = rng.random()
            if r < 0.25:
                spans.append([since, min(time.time(), expiry)])
                lease.release()
                since = None
            elif r < 0.3:
                time.sleep(ttl * 1.5)  # a stalled holder: the lease lapses
            else:
                time.sleep(0.01)
        elif since is not None:  # lost it: it lapsed at the last expiry we set
            spans.append([since, expiry])
            since = None
        time.sleep(0.002)
    if since is not None:
        spans.append([since, min(time.time(), expiry)])
        lease.release()
    print(json.dumps({"holder": holder, "spans": spans, "tries": tries}), flush=True)
    """
)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_never_hold_the_lease_at_once(engine: Engine, db_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, db_url, f"proc-{i}", "3.0"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:  # start together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    spans = sorted((s, e, r["holder"]) for r in results for s, e in r["spans"])
    assert all(r["spans"] for r in results), results  # both held it at some point
    handovers = sum(a[2] != b[2] for a, b in itertools.pairwise(spans))
    assert handovers >= 3, spans
    for (s1, e1, h1), (s2, _e2, h2) in itertools.pairwise(spans):
        assert s1 <= e1
        assert e1 <= s2, f"{h1} held the lease until {e1}, {h2} took it at {s2}"
