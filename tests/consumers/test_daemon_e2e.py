"""End to end through the real broker and real databases (SQLite and PostgreSQL).

These are the spine's promises: every valid message is stored exactly once and counted once in
the series; malformed ones reach the dead-letter topic with their bytes and a reason; stopping
or crashing mid-stream loses nothing and double-counts nothing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from consumers.dlq import KafkaDeadLetterSink
from consumers.kafka_io import make_consumer, make_producer
from consumers.loop import NewsConsumer
from models.lexicon import LexiconClassifier
from pipeline.daemon import Daemon
from pipeline.errors import StoreError
from pipeline.settings import Settings
from pipeline.store import SqlStore, make_engine, upgrade
from pipeline.store.schema import articles, sentiment_series
from tests.helpers import daemon_env, news, produce, read_topic


def count_articles(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())


def series_total(engine: Engine, key: str = "all") -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(sentiment_series.c.n), 0)).where(
                    sentiment_series.c.series_key == key
                )
            ).scalar_one()
        )


def test_n_messages_in_n_articles_out(settings: Settings, store_engine: Engine) -> None:
    msgs: list[Any] = [news(i, source="wire" if i % 2 else "pr") for i in range(90)]
    msgs.insert(10, msgs[3])  # the crawler re-sends a message: same id, counted once
    msgs.insert(20, "{broken json")
    msgs.insert(30, {"id": "no-text", "source": "wire"})
    produce(settings.kafka, msgs)

    stats = Daemon(settings).run(threading.Event(), idle_exit_s=3)

    assert count_articles(store_engine) == 90
    assert series_total(store_engine, "all") == 90
    assert series_total(store_engine, "source:wire") == 45
    assert series_total(store_engine, "source:pr") == 45
    assert stats.consumed == 93 and stats.stored == 90
    assert stats.duplicates == 1 and stats.dead_lettered == 2

    dead = read_topic(settings.kafka, settings.kafka.dlq_topic, expected=2)
    assert sorted(r.value for r in dead) == sorted(
        [b"{broken json", json.dumps({"id": "no-text", "source": "wire"}).encode()]
    )
    reasons = sorted(dict(r.headers)["finsentry-reason"] for r in dead)
    assert reasons == [b"invalid", b"not_json"]


def test_sigterm_midstream_then_restart(settings: Settings, store_engine: Engine) -> None:
    produce(settings.kafka, [news(i) for i in range(150)])
    env = daemon_env(settings, FINSENTRY_RUN_ALERTS="true")
    cmd = [sys.executable, "-m", "pipeline.cli", "run"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while count_articles(store_engine) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    first = json.loads(out.decode().strip().splitlines()[-1])
    assert first["stored"] == count_articles(store_engine) > 0

    # the crawler keeps publishing while the daemon is down
    produce(settings.kafka, [news(i) for i in range(150, 300)])
    rerun = subprocess.run(
        [*cmd, "--exit-when-idle", "3"], env=env, capture_output=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr.decode()
    second = json.loads(rerun.stdout.decode().strip().splitlines()[-1])
    assert count_articles(store_engine) == 300
    assert series_total(store_engine) == 300
    assert first["stored"] + second["stored"] == 300


class CrashOnCommit:
    """A real consumer whose first offset commit "crashes" the process."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit(self, timeout_ms: int | None = None) -> None:
        raise RuntimeError("simulated crash between the store transaction and the commit")


def test_crash_after_store_before_commit_is_absorbed(
    settings: Settings, store_engine: Engine
) -> None:
    produce(settings.kafka, [news(i) for i in range(60)])
    sink = SqlStore(store_engine)
    producer = make_producer(settings.kafka)
    dlq = KafkaDeadLetterSink(producer, settings.kafka.dlq_topic)
    try:
        crashing = make_consumer(settings.kafka)
        loop = NewsConsumer(
            CrashOnCommit(crashing),
            LexiconClassifier(),
            sink,
            dlq,
            max_records=25,
            poll_timeout_ms=500,
        )
        stored_before = 0
        with pytest.raises(RuntimeError, match="simulated crash"):
            for _ in range(40):  # poll until the first non-empty batch is stored
                loop.process_once()
        stored_before = count_articles(store_engine)
        assert stored_before > 0
        crashing.close(autocommit=False)

        fresh = make_consumer(settings.kafka)
        try:
            loop2 = NewsConsumer(
                fresh, LexiconClassifier(), sink, dlq, max_records=25, poll_timeout_ms=500
            )
            stats = loop2.run(threading.Event(), idle_exit_s=3)
        finally:
            fresh.close(autocommit=False)
    finally:
        producer.close()
    assert stats.duplicates == stored_before  # the uncommitted batch came back...
    assert count_articles(store_engine) == 60  # ...and changed nothing
    assert series_total(store_engine) == 60


class FlakySink:
    """Fails the first ``failures`` writes as a database outage would."""

    def __init__(self, inner: SqlStore, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def write_batch(self, items: Any) -> list[str]:
        self.calls += 1
        if self.calls <= self.failures:
            raise StoreError("database is down")
        return self.inner.write_batch(items)


def test_store_outage_rewinds_and_loses_nothing(settings: Settings, store_engine: Engine) -> None:
    produce(settings.kafka, [news(i) for i in range(40)])
    producer = make_producer(settings.kafka)
    consumer = make_consumer(settings.kafka)
    sink = FlakySink(SqlStore(store_engine), failures=3)
    try:
        loop = NewsConsumer(
            consumer,
            LexiconClassifier(),
            sink,
            KafkaDeadLetterSink(producer, settings.kafka.dlq_topic),
            max_records=25,
            poll_timeout_ms=300,
            store_attempts=1,
            backoff_s=0.1,
        )
        stats = loop.run(threading.Event(), idle_exit_s=3)
    finally:
        consumer.close(autocommit=False)
        producer.close()
    assert stats.store_failures == 3
    assert count_articles(store_engine) == 40
    assert series_total(store_engine) == 40


@pytest.mark.slow
def test_default_transformer_daemon_end_to_end(
    broker: Any, kafka_names: dict[str, str], tmp_path: Any
) -> None:
    """No model flags: the daemon runs the shipped fine-tuned transformer and topic head; it
    explains nothing in its hot path, and an article's words are computed when it is shown."""
    from pipeline.query import articles as query_articles
    from pipeline.settings import load_settings

    s = load_settings(
        None,
        kafka={
            "bootstrap_servers": broker.bootstrap,
            "session_timeout_ms": 6000,
            "poll_timeout_ms": 200,
            **kafka_names,
        },
        store={"url": f"sqlite:///{tmp_path}/default.db"},
        tagging={"watchlist": "models/watchlist.example.toml"},
        run_alerts=False,
    )
    assert s.model.name == "default" and s.tagging.topic_model == "default"
    eng = make_engine(s.store.url)
    upgrade(eng)
    texts = [
        "Acme shares plunge after profit warning",
        "Acme beats estimates and raises full-year guidance",
        "Acme will hold its annual general meeting on May 3",
    ]
    produce(s.kafka, [news(i, text=texts[i % 3]) for i in range(12)])
    stats = Daemon(s).run(threading.Event(), idle_exit_s=3)
    assert stats.stored == 12
    frame = query_articles(eng, "entity:ACME", limit=100)
    by_title = dict(zip(frame["title"], frame["label"], strict=False))
    assert by_title == {texts[0]: "negative", texts[1]: "positive", texts[2]: "neutral"}
    neg = frame[frame["label"] == "negative"]
    assert neg["explanation"].isna().all()  # no explanation pass in the consumer's hot path
    from models.registry import load_classifier
    from pipeline.explanations import explain_articles

    shown = explain_articles(eng, load_classifier(s.model), list(neg["id"]))
    eng.dispose()
    assert set(shown) == set(neg["id"]) and all(shown.values())
    assert frame["model_version"].str.startswith("sentiment-minilm-lora").all()
