"""The HTTP server as people start it: ``finsentry serve`` and ``finsentry run --http`` as real
subprocesses on a real port, answering over TCP, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from consumers.broker import EmbeddedBroker
from consumers.records import Article, ScoredArticle
from models.lexicon import LexiconClassifier
from pipeline.api.context import DaemonView
from pipeline.settings import Settings
from pipeline.store import SqlStore
from tests.helpers import daemon_env, news, produce
from tests.pipeline.api_fixtures import T0, items

TOKEN = "serve-test-token-4471"
SERVE = [sys.executable, "-m", "pipeline.cli", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"exited {proc.returncode}: {err.decode()[-2000:]}")
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout_s}s")


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out.decode(), err.decode()


def lexicon_row(title: str) -> ScoredArticle:
    """An article labelled by the lexicon model and stored as the daemon stores it: no
    explanation words yet."""
    lexicon = LexiconClassifier()
    [pred] = lexicon.classify([title])
    article = Article("lex-1", title, None, None, "lexwire", "en", T0 + timedelta(minutes=30))
    return ScoredArticle(article, pred, lexicon.version)


def test_serve_answers_then_stops_on_sigterm(engine: Engine, db_url: str, tmp_path: Path) -> None:
    title = "Acme shares plunge after profit warning"
    SqlStore(engine).write_batch([*items(), lexicon_row(title)])
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    env = {
        **daemon_env_store(db_url),
        "FINSENTRY_HTTP__TOKEN_FILE": str(token_file),
    }
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), "--model", "lexicon"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_for(f"{base}/health", proc)
        assert health.status_code == 200
        assert health.json()["mode"] == "serve" and health.json()["broker"] is None
        assert httpx.get(f"{base}/api/keys").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        r = httpx.get(
            f"{base}/api/series",
            params={"key": "entity:ACME", "since": T0.isoformat(), "until": "now", "every": "1D"},
            headers=auth,
        )
        assert r.status_code == 200 and sum(p["n"] for p in r.json()["points"]) == 6
        assert "finsentry_alerts_fired_total" in httpx.get(f"{base}/metrics").text
        page = httpx.get(f"{base}/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        # the model loads in the background; then a story stored without words gets them
        words: list[str] = []
        deadline = time.monotonic() + 60
        while not words and time.monotonic() < deadline:
            r = httpx.get(
                f"{base}/api/articles",
                params={"key": "source:lexwire", "since": T0.isoformat(), "until": "now"},
                headers=auth,
            )
            assert r.status_code == 200
            [story] = r.json()["articles"]
            words = story["explanation"]
            time.sleep(0.2)
        assert "plunge" in words and set(words) <= set(title.split())
    finally:
        rc, _, err = stop(proc)
    assert rc == 0, err
    assert f"serving the API and dashboard on {base}/" in err
    assert TOKEN not in err and "Traceback" not in err


def daemon_env_store(db_url: str) -> dict[str, str]:
    import os

    return {**os.environ, "FINSENTRY_STORE__URL": db_url}


def test_serve_refuses_a_public_address_without_a_token(db_url: str, engine: Engine) -> None:
    res = subprocess.run(
        [*SERVE, "--no-explain", "--host", "0.0.0.0", "--port", "0"],
        env=daemon_env_store(db_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "finsentry: error: refusing to serve on 0.0.0.0 without a token: set http.token or "
        "http.token_file (FINSENTRY_HTTP__TOKEN_FILE), or bind 127.0.0.1"
    ]


def test_serve_reports_a_port_in_use_in_one_line(db_url: str, engine: Engine) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        res = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)],
            env=daemon_env_store(db_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert res.returncode == 2
    [line] = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert line.startswith(f"finsentry: error: can't listen on 127.0.0.1:{port}")


def test_daemon_view_probes_the_broker(broker: EmbeddedBroker) -> None:
    assert DaemonView(broker.bootstrap).broker_reachable()
    assert not DaemonView(f"127.0.0.1:{free_port()}", timeout_s=0.5).broker_reachable()


def test_run_http_serves_the_daemons_health(settings: Settings, engine: Engine) -> None:
    produce(settings.kafka, [news(i) for i in range(30)])
    port = free_port()
    env = daemon_env(settings, FINSENTRY_RUN_ALERTS="true")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    body: dict[str, Any] = {}
    try:
        wait_for(f"{base}/health", proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the model is up and the batch stored
            body = wait_for(f"{base}/health", proc).json()
            keys = httpx.get(f"{base}/api/keys", timeout=5).json()["keys"]
            stored = sum(k["n"] for k in keys if k["key"] == "all")
            if body["model_version"] and body["lease_holder"] and stored == 30:
                break
            time.sleep(0.2)
        assert body["mode"] == "run" and body["status"] == "ok"
        assert body["broker"] is True and body["store"] is True and body["schema_current"]
        assert body["model_version"] and body["model_version"].startswith("lexicon")
        assert body["lease_holder"]  # this daemon's alert scheduler took the lease
        metrics = httpx.get(f"{base}/metrics").text
        assert 'finsentry_model_info{name="lexicon"' in metrics
        assert "finsentry_detector_lease_held 1.0" in metrics
    finally:
        rc, out, err = stop(proc)
    assert rc == 0, err
    assert json.loads(out.strip().splitlines()[-1])["stored"] == 30
    assert "Traceback" not in err
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/health", timeout=2)
