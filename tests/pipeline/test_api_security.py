"""Who may call the API, and what a failure shows: a bearer token for every route but the
public ones once a token is set, write routes always behind it, no serving beyond loopback
without one, the token never in a log, and no stack trace in any response body."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, update

from pipeline.api import create_app
from pipeline.api.security import check_bind, is_loopback, resolve_token
from pipeline.errors import ConfigError
from pipeline.settings import HttpSettings, load_settings
from pipeline.store import SqlStore
from pipeline.store.schema import sentiments
from tests.pipeline.api_fixtures import T0, items

TOKEN = "s3cret-api-token-6021"
READS = ["/api/keys", "/api/series", "/api/articles", "/api/alerts", "/api/silences", "/docs"]


def app_client(db_url: str, engine: Engine, **http: Any) -> TestClient:
    settings = load_settings(None, store={"url": db_url}, http=http)
    return TestClient(create_app(settings, engine), raise_server_exceptions=False)


@pytest.fixture
def guarded(db_url: str, engine: Engine) -> Iterator[TestClient]:
    with app_client(db_url, engine, token=TOKEN) as c:
        yield c


def test_token_guards_every_route_but_the_public_ones(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in READS:
        r = guarded.get(path)
        assert r.status_code == 401, path
        assert r.json() == {"error": "missing or wrong bearer token"}
        assert r.headers["www-authenticate"] == "Bearer"
        wrong = guarded.get(path, headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401, path
        basic = guarded.get(path, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401, path
        ok = guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, (path, ok.text)
    for path in ("/health", "/metrics", "/"):  # public, and the dashboard's static shell
        assert guarded.get(path).status_code == 200, path
    # write routes need it too
    assert guarded.post("/api/alerts/1/ack", json={"by": "x"}).status_code == 401
    assert guarded.post("/api/silences", json={"matchers": {"rule": "x"}}).status_code == 401
    assert guarded.delete("/api/silences/1").status_code == 401
    r = guarded.post(
        "/api/silences",
        json={"matchers": {"rule": "neg_spike"}},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 201
    assert TOKEN not in caplog.text


def test_write_routes_need_the_token_even_when_reads_are_public(
    db_url: str, engine: Engine
) -> None:
    with app_client(db_url, engine, token=TOKEN, public_routes=["/api/*", "/health"]) as c:
        assert c.get("/api/keys").status_code == 200
        assert c.get("/api/silences").status_code == 200
        assert c.get("/metrics").status_code == 401  # no longer listed as public
        assert c.post("/api/silences", json={"matchers": {"rule": "x"}}).status_code == 401
        assert c.delete("/api/silences/1").status_code == 401


def test_without_a_token_loopback_serves_everything(db_url: str, engine: Engine) -> None:
    with app_client(db_url, engine) as c:
        assert c.get("/api/keys").status_code == 200
        r = c.post("/api/silences", json={"matchers": {"rule": "x"}, "duration": "1h"})
        assert r.status_code == 201


def test_token_file_and_bind_rules(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text(f"{TOKEN}\n")
    token = resolve_token(HttpSettings(token_file=f))
    assert token is not None and token.get_secret_value() == TOKEN
    assert resolve_token(HttpSettings()) is None
    f.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        resolve_token(HttpSettings(token_file=f))
    with pytest.raises(ConfigError, match="can't read"):
        resolve_token(HttpSettings(token_file=tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not both"):
        resolve_token(HttpSettings(token=SecretStr("a"), token_file=f))

    for host in ("127.0.0.1", "127.0.0.9", "::1", "localhost"):
        assert is_loopback(host)
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "10.1.2.3", "example.org"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="without a token"):
            check_bind(host, None)
        check_bind(host, SecretStr(TOKEN))
    # the token never prints with the settings
    s = load_settings(None, http={"token": TOKEN})
    assert TOKEN not in repr(s) and TOKEN not in str(s.model_dump())


def test_a_failure_is_one_json_line_and_one_log_line(
    db_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    SqlStore(engine).write_batch(items())
    # a stored explanation of a shape no writer produces: the route fails unexpectedly
    with engine.begin() as conn:
        conn.execute(update(sentiments).values(explanation=[["fraud"]]))
    caplog.set_level(logging.INFO)
    with app_client(db_url, engine) as c:
        r = c.get("/api/articles", params={"since": T0.isoformat(), "until": "now"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error"}
    assert "Traceback" not in r.text and "IndexError" not in r.text
    [record] = [rec for rec in caplog.records if "/api/articles failed" in rec.getMessage()]
    assert "IndexError" in record.getMessage() and record.exc_info is None
