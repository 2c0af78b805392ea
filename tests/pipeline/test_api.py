"""The HTTP API against the real app (FastAPI's TestClient), on SQLite and PostgreSQL: a
store filled through the real writer and the real alert lifecycle, every value checked — the
series counts, the stories behind a point, keys with volumes, alerts with their evidence, an
acknowledgement that changes the alert, silences added, listed and expired, /health, /metrics.
The same numbers are asked of the CLI's query functions, so the API can't drift from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from alerts.lifecycle import Lifecycle
from pipeline.api import create_app
from pipeline.query import series as query_series
from pipeline.query import top_negative
from pipeline.settings import load_settings
from pipeline.store import SqlStore
from pipeline.store.alerts_sql import SqlAlertStore
from tests.alerts.series_fixtures import (
    ALERTS,
    SPIKE_KEY,
    alert_rows,
    live_world,
    notify_settings,
)
from tests.pipeline.api_fixtures import T0, VERSION, items

MIN = timedelta(minutes=1)


@pytest.fixture
def client(engine: Engine, db_url: str) -> Iterator[TestClient]:
    settings = load_settings(None, store={"url": db_url})
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def filled(engine: Engine) -> Engine:
    SqlStore(engine).write_batch(items())
    return engine


def iso(t: object) -> str:
    return t.isoformat()  # type: ignore[attr-defined]


def test_series_counts_per_bucket(client: TestClient, filled: Engine) -> None:
    r = client.get(
        "/api/series",
        params={
            "key": "entity:ACME",
            "since": iso(T0),
            "until": iso(T0 + 30 * MIN),
            "every": "5min",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["key"] == "entity:ACME" and body["every"] == "5min"
    pts = body["points"]
    assert [p["t"] for p in pts] == [
        (T0 + i * 5 * MIN).isoformat().replace("+00:00", "Z") for i in range(6)
    ]
    # 10:00-10:05: n1, n2 (copy), n3 negative, p1 positive; 10:05-10:10: u1; 10:20: n4
    assert [(p["n"], p["n_neg"], p["n_neu"], p["n_pos"]) for p in pts] == [
        (4, 3, 0, 1),
        (1, 0, 1, 0),
        (0, 0, 0, 0),
        (0, 0, 0, 0),
        (1, 1, 0, 0),
        (0, 0, 0, 0),
    ]
    assert pts[0]["neg_share"] == pytest.approx(0.75)
    # the CLI's function says the same
    frame = query_series(filled, "entity:ACME", T0, T0 + 30 * MIN, every="5min")
    assert [int(v) for v in frame["n"]] == [p["n"] for p in pts]
    assert [round(float(v), 6) for v in frame["mean_score"]] == [p["mean_score"] for p in pts]

    # CLI-style bucket size and relative since work too; hourly roll-up holds all six ACME
    r = client.get(
        "/api/series",
        params={"key": "entity:ACME", "since": iso(T0), "until": iso(T0 + 60 * MIN), "every": "1h"},
    )
    assert [p["n"] for p in r.json()["points"]] == [6]


def test_articles_behind_a_point(client: TestClient, filled: Engine) -> None:
    point = {"key": "entity:ACME", "since": iso(T0), "until": iso(T0 + 5 * MIN)}
    r = client.get("/api/articles", params=point)
    assert r.status_code == 200, r.text
    arts = r.json()["articles"]
    # stories: the copy n2 folds into one story with n1 (newest copy shown), copies == 2
    assert [a["id"] for a in arts] == ["p1", "n3", "n2"]
    fraud = arts[2]
    assert fraud["copies"] == 2 and fraud["label"] == "negative"
    assert fraud["explanation"] == ["fraud", "probe"]
    assert fraud["explanation_weights"] == [0.6, 0.5]
    assert fraud["p_neg"] == pytest.approx(0.9) and fraud["model_version"] == VERSION
    assert fraud["url"] == "https://news.example/n2"
    assert fraud["published_at"] == (T0 + 2 * MIN + timedelta(seconds=10)).isoformat().replace(
        "+00:00", "Z"
    )
    # every copy, and a label filter
    r = client.get("/api/articles", params={**point, "stories": "false", "label": "negative"})
    assert sorted(a["id"] for a in r.json()["articles"]) == ["n1", "n2", "n3"]
    r = client.get(
        "/api/articles", params={**point, "key": "topic:credit_debt", "until": iso(T0 + 30 * MIN)}
    )
    assert [a["id"] for a in r.json()["articles"]] == ["n4", "n3"]


def test_keys_with_volumes(client: TestClient, filled: Engine) -> None:
    r = client.get("/api/keys", params={"since": iso(T0 - 60 * MIN)})
    assert r.status_code == 200, r.text
    keys = {k["key"]: k for k in r.json()["keys"]}
    assert keys["all"]["n"] == 7 and keys["all"]["kind"] == "all"
    acme = keys["entity:ACME"]
    assert (acme["n"], acme["n_neg"], acme["stories"], acme["kind"]) == (6, 4, 5, "entity")
    assert keys["source:wire"]["n"] == 6 and keys["source:wire"]["kind"] == "source"
    assert keys["entity:ACME/topic:credit_debt"]["kind"] == "entity/topic"
    ns = [k["n"] for k in r.json()["keys"]]
    assert ns == sorted(ns, reverse=True)
    r = client.get("/api/keys", params={"since": iso(T0 - 60 * MIN), "prefix": "topic:"})
    assert {k["key"] for k in r.json()["keys"]} == {
        "topic:credit_debt",
        "topic:litigation_regulation",
    }


def test_bad_input_is_one_line_json(client: TestClient, filled: Engine) -> None:
    cases = [
        ("/api/series?key=entity:ACMEE", 404, "closest: entity:ACME"),
        ("/api/series?every=90s", 400, "whole minutes"),
        ("/api/series?since=yesterday", 400, "not a time"),
        ("/api/series?since=1h&until=2h", 400, "since must be before until"),
        ("/api/series?since=3650d&every=1min", 400, "buckets"),
        ("/api/articles?limit=0", 422, "limit"),
        ("/api/articles?label=awful", 422, "label"),
        ("/api/alerts/999", 404, "no alert with id 999"),
        ("/api/nothing-here", 404, ""),
    ]
    for path, status, words in cases:
        r = client.get(path)
        assert r.status_code == status, (path, r.text)
        if path.startswith("/api/nothing"):
            continue
        body = r.json()
        assert set(body) == {"error"} and "\n" not in body["error"], path
        assert words in body["error"], (path, body)
        assert "Traceback" not in r.text


def test_alerts_list_show_ack(client: TestClient, engine: Engine) -> None:
    live = live_world(engine)
    lc = Lifecycle(
        SqlAlertStore(engine),
        ALERTS,
        channels_for=notify_settings().channels_for,
        article_lookup=lambda key, start, end, k: top_negative(engine, key, start, end, k),
    )
    assert lc.tick(live.at(30)).fired == [SPIKE_KEY]
    [row] = alert_rows(engine)

    r = client.get("/api/alerts")
    assert r.status_code == 200, r.text
    [a] = r.json()["alerts"]
    assert a["id"] == row["id"] and a["series_key"] == SPIKE_KEY and a["state"] == "firing"
    assert a["rule"] == "neg_spike" and a["acked_at"] is None
    ev = row["evidence"]
    assert a["observed"] == pytest.approx(ev["share"]) and a["observed"] > 0.4
    assert a["baseline"] == pytest.approx(ev["baseline_share"]) and a["baseline"] < 0.25
    assert a["lift"] >= 3 and a["p_value"] == pytest.approx(ev["p_share"])
    assert client.get("/api/alerts", params={"state": "resolved"}).json()["alerts"] == []

    r = client.get(f"/api/alerts/{row['id']}")
    detail = r.json()
    assert detail["top_articles"][0]["id"] == "acme-0"
    assert detail["top_articles"][0]["title"] == "ACME accused of accounting fraud by short seller"
    assert detail["top_words"][0] == "fraud"
    assert [(n["channel"], n["event"], n["status"]) for n in detail["notifications"]] == [
        ("log", "firing", "pending")
    ]

    r = client.post(f"/api/alerts/{row['id']}/ack", json={"by": "oncall"})
    assert r.status_code == 200, r.text
    assert r.json()["acked_by"] == "oncall" and r.json()["acked_at"] is not None
    [row] = alert_rows(engine)
    assert row["acked_by"] == "oncall" and row["acked_at"] is not None
    # acknowledging again keeps the first acknowledgement
    again = client.post(f"/api/alerts/{row['id']}/ack", json={"by": "someone-else"}).json()
    assert again["acked_by"] == "oncall"
    assert client.post("/api/alerts/999/ack", json={"by": "x"}).status_code == 404
    assert client.post(f"/api/alerts/{row['id']}/ack", json={}).status_code == 422


def test_silences_add_list_expire(client: TestClient, engine: Engine) -> None:
    assert client.get("/api/silences").json() == {"silences": []}
    r = client.post(
        "/api/silences",
        json={
            "matchers": {"series_key": "entity:ACME*"},
            "duration": "2h",
            "comment": "known fraud story",
            "by": "oncall",
        },
    )
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["matchers"] == {"series_key": "entity:ACME*"} and s["active"] is True
    assert s["created_by"] == "oncall" and s["comment"] == "known fraud story"
    from datetime import datetime

    starts, ends = (datetime.fromisoformat(s[k]) for k in ("starts_at", "ends_at"))
    assert ends - starts == timedelta(hours=2)
    [listed] = client.get("/api/silences").json()["silences"]
    assert listed["id"] == s["id"]

    # it silences the episode: the alert fires, no notification is queued
    live = live_world(engine)
    lc = Lifecycle(SqlAlertStore(engine), ALERTS, channels_for=notify_settings().channels_for)
    report = lc.tick(live.at(31))  # (the silence began at the wall clock's now)
    assert report.silenced == [SPIKE_KEY] and report.fired == []

    r = client.delete(f"/api/silences/{s['id']}")
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/silences").json() == {"silences": []}
    assert client.delete(f"/api/silences/{s['id']}").status_code == 409
    assert client.delete("/api/silences/999").status_code == 404
    bad = client.post("/api/silences", json={"matchers": {"colour": "red"}})
    assert bad.status_code == 400 and "unknown matcher field" in bad.json()["error"]
    bad = client.post("/api/silences", json={"matchers": {"rule": "x"}, "duration": "-2h"})
    assert bad.status_code == 400 and "duration" in bad.json()["error"]


def test_health_and_metrics(client: TestClient, filled: Engine) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "store": True,
        "schema_current": True,
        "broker": None,
        "lease_holder": None,
        "consumer_lag": None,
        "model_version": VERSION,
        "mode": "serve",
    }
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    from pipeline.metrics import INSTRUMENTS

    for name in INSTRUMENTS:
        assert f"# TYPE {name} " in r.text, name


def test_health_is_503_when_the_schema_is_not_current(client: TestClient, engine: Engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'not-a-revision'"))
    r = client.get("/health")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and body["store"] is True
    assert body["schema_current"] is False
