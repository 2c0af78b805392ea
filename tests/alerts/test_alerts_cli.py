"""``finsentry alerts …`` through :func:`pipeline.cli.main` with ``--db``, on SQLite and
PostgreSQL: tick (detect + deliver to a real webhook endpoint), list, show, ack, silence
add/list/expire, backtest over the stored history, and clear exit-code-2 errors for bad input.

``alerts tick`` reads the wall clock, so those tests plant the episode relative to now; the
backtest takes explicit instants and uses the fixed world.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.lifecycle import Lifecycle
from pipeline.cli import main
from pipeline.store.alerts_sql import SqlAlertStore
from tests.alerts.notify_fixtures import Receiver
from tests.alerts.series_fixtures import (
    ALERTS,
    MIN,
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET) as rx:
        yield rx


@pytest.fixture
def config(tmp_path: Path, receiver: Receiver) -> str:
    return write_config(tmp_path / "finsentry.toml", receiver.url())


@pytest.fixture
def live(engine: Engine) -> World:
    return live_world(engine)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def tick(capsys: pytest.CaptureFixture[str], db: str, config: str) -> dict[str, Any]:
    rc, out, err = cli(capsys, "alerts", "tick", "--db", db, "--config", config)
    assert rc == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_tick_list_show_ack(
    engine: Engine,
    db_url: str,
    live: World,
    config: str,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = tick(capsys, db_url, config)
    assert report["fired"] == [SPIKE_KEY] and report["silenced"] == []
    assert report["notifications_delivered"] == 2  # hook and log, delivered by the same command
    [alert] = alert_rows(engine)
    assert [r.json()["event"] for r in receiver.requests] == ["firing"]
    assert receiver.requests[0].signature_ok
    assert receiver.requests[0].key == f"{alert['id']}:firing:0:hook"

    # a second tick in the same episode: the same alert, nothing new to send
    again = tick(capsys, db_url, config)
    assert again["fired"] == [] and again["notifications_delivered"] == 0
    assert len(alert_rows(engine)) == 1 and len(receiver.requests) == 1

    rc, out, _ = cli(capsys, "alerts", "list", "--db", db_url, "--format", "json")
    assert rc == 0
    [first] = json.loads(out)
    assert first["series_key"] == SPIKE_KEY and first["status"] == "firing"
    assert first["lift"] >= 3
    rc, out, _ = cli(
        capsys, "alerts", "list", "--db", db_url, "--status", "resolved", "--format", "csv"
    )
    assert rc == 0 and SPIKE_KEY not in out

    rc, out, _ = cli(capsys, "alerts", "show", str(alert["id"]), "--db", db_url)
    assert rc == 0
    assert f"alert {alert['id']}: FIRING neg_spike on {SPIKE_KEY}" in out
    assert "words     fraud" in out
    assert "ACME accused of accounting fraud by short seller" in out
    assert "hook/firing=delivered" in out and "log/firing=delivered" in out
    rc, out, _ = cli(capsys, "alerts", "show", str(alert["id"]), "--db", db_url, "--format", "json")
    shown = json.loads(out)
    assert shown["evidence"]["top_articles"][0]["id"] == "acme-0"
    assert [n["status"] for n in shown["notifications"]] == ["delivered", "delivered"]

    rc, out, _ = cli(capsys, "alerts", "ack", str(alert["id"]), "--db", db_url, "--by", "oncall")
    assert rc == 0 and "acknowledged" in out
    rc, out, _ = cli(capsys, "alerts", "ack", str(alert["id"]), "--db", db_url)
    assert rc == 1 and "nothing to acknowledge" in out
    rc, out, _ = cli(capsys, "alerts", "show", str(alert["id"]), "--db", db_url)
    assert "by oncall" in out

    # acknowledged: a tick well past the repeat interval queues no repeat
    lc = Lifecycle(
        SqlAlertStore(engine), ALERTS, channels_for=notify_settings(receiver.url()).channels_for
    )
    report_later = lc.tick(live.at(35 + ALERTS.repeat_interval_min))
    assert report_later.repeated == []
    assert [e for e, _ in events(engine)] == ["firing", "firing"]


def test_silence_add_list_expire(
    engine: Engine,
    db_url: str,
    live: World,
    config: str,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, out, err = cli(
        capsys,
        "alerts",
        "silence",
        "add",
        "--db",
        db_url,
        "--match",
        "series_key=entity:ACME*",
        "--for",
        "2h",
        "--comment",
        "earnings call",
    )
    assert rc == 0, err
    sid = int(out.split()[1])
    rc, out, _ = cli(capsys, "alerts", "silence", "list", "--db", db_url)
    assert rc == 0 and "entity:ACME*" in out and "earnings call" in out

    report = tick(capsys, db_url, config)
    assert report["fired"] == [] and report["silenced"] == [SPIKE_KEY]
    assert report["notifications_delivered"] == 0
    [alert] = alert_rows(engine)
    assert alert["status"] == "firing"  # recorded, just not sent
    assert outbox(engine) == [] and receiver.requests == []

    rc, out, _ = cli(capsys, "alerts", "silence", "expire", "--db", db_url, "--id", str(sid))
    assert rc == 0 and f"silence {sid} expired" in out
    rc, out, _ = cli(capsys, "alerts", "silence", "expire", "--db", db_url, "--id", str(sid))
    assert rc == 1 and "not active" in out
    rc, out, _ = cli(capsys, "alerts", "silence", "list", "--db", db_url)
    assert "entity:ACME*" not in out

    # the episode outlasted its silence: the next tick tells people after all
    report = tick(capsys, db_url, config)
    assert report["fired"] == [SPIKE_KEY] and report["notifications_delivered"] == 2
    assert [r.json()["event"] for r in receiver.requests] == ["firing"]


BAD_INPUT = [
    (["alerts", "show", "999"], "no alert with id 999"),
    (["alerts", "ack", "999"], "no alert with id 999"),
    (["alerts", "silence", "add", "--match", "owner=bob"], "unknown matcher field 'owner'"),
    (["alerts", "silence", "add", "--match", "series_key="], "empty pattern"),
    (["alerts", "silence", "add"], "at least one matcher"),
    (["alerts", "silence", "add", "--match", "x", "--for", "0s"], "positive duration"),
    (["alerts", "silence", "add", "--match", "x", "--for", "soon"], "not a duration"),
    (["alerts", "silence", "expire"], "needs --id"),
    (["alerts", "backtest", "--since", "1d", "--until", "2d"], "--since must be before"),
    (["alerts", "backtest", "--since", "1d", "--every", "10s"], "at least 1m"),
    (["alerts", "backtest", "--since", "last tuesday"], "not a time"),
]


def test_bad_input_is_exit_code_2_with_a_clear_message(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in BAD_INPUT:
        rc, _, err = cli(capsys, *args, "--db", db_url)
        assert (rc, message in err) == (2, True), (args, err)
        assert err.startswith("finsentry: error: ") and "Traceback" not in err
    assert alert_rows(engine) == []


def test_backtest_lists_the_planted_episode_and_nothing_else(
    engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = write_world(engine, World(SPIKE_START), newcomer=True)
    since = (world.spike_start - timedelta(hours=6)).isoformat()
    until = world.last.isoformat()
    rc, out, err = cli(
        capsys,
        "alerts",
        "backtest",
        "--db",
        db_url,
        "--since",
        since,
        "--until",
        until,
        "--format",
        "json",
    )
    assert rc == 0, err
    assert "1 alert(s) would have fired" in err
    episodes = json.loads(out)
    assert [e["series_key"] for e in episodes] == [SPIKE_KEY]
    [e] = episodes
    first_fired = datetime.fromisoformat(str(e["first_fired"]).replace("Z", "+00:00"))
    resolved = datetime.fromisoformat(str(e["resolved"]).replace("Z", "+00:00"))
    assert world.spike_start < first_fired <= world.at(35)  # within the first half hour
    assert world.spike_end < resolved <= world.spike_end + 30 * MIN
    assert e["max_lift"] >= 3

    # a quiet key alone: nothing
    rc, out, err = cli(
        capsys,
        "alerts",
        "backtest",
        "--db",
        db_url,
        "--since",
        since,
        "--until",
        until,
        "--key",
        "entity:QUIET",
        "--key",
        "topic:earnings",
    )
    assert rc == 0 and "0 alert(s) would have fired" in err
    # the backtest writes nothing
    assert alert_rows(engine) == [] and outbox(engine) == []

    # and it says what the live tick says: quiet the minute before, firing at that minute
    lc = Lifecycle(SqlAlertStore(engine), ALERTS, channels_for=notify_settings().channels_for)
    assert lc.tick(first_fired - MIN).fired == []
    assert lc.tick(first_fired).fired == [SPIKE_KEY]
