"""Faults with real processes: the daemon killed between store and commit, the broker killed
under the daemon, and dead letters that the broker can't take.

- kill -9 while the daemon sits between its store transaction and its offset commit (the
  ``pause_before_commit_s`` hook makes that window wide): the restarted daemon gets the batch
  again and the store absorbs it — nothing lost, nothing counted twice;
- the broker killed while the daemon runs: SIGTERM still ends the daemon within the bound;
- a dead-letter sink whose broker is gone: ``flush`` gives up within its timeout, and at once
  when the stop event is set, instead of blocking the loop.
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

from consumers.broker import EmbeddedBroker
from consumers.config import KafkaSettings
from consumers.dlq import DeadLetter, KafkaDeadLetterSink
from consumers.kafka_io import make_producer
from pipeline.errors import BrokerError
from pipeline.settings import Settings
from pipeline.store.schema import articles, sentiment_series
from tests.helpers import daemon_env, news, produce

SIGTERM_BOUND_S = 10.0


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(articles)).scalar_one()
        s = conn.execute(
            select(func.coalesce(func.sum(sentiment_series.c.n), 0)).where(
                sentiment_series.c.series_key == "all"
            )
        ).scalar_one()
    return int(n), int(s)


CMD = [sys.executable, "-m", "pipeline.cli", "run"]


def test_kill_between_store_and_commit_is_absorbed(
    settings: Settings, store_engine: Engine
) -> None:
    produce(settings.kafka, [news(i) for i in range(60)])
    env = daemon_env(settings, FINSENTRY_KAFKA__PAUSE_BEFORE_COMMIT_S="5")
    proc = subprocess.Popen(CMD, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while counts(store_engine)[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        stored_before_kill = counts(store_engine)[0]
        proc.kill()  # kill -9 inside the store → commit window
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)  # reap it and close its pipes
    assert stored_before_kill > 0
    rerun = subprocess.run(
        [*CMD, "--exit-when-idle", "3"],
        env=daemon_env(settings),
        capture_output=True,
        timeout=180,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    stats = json.loads(rerun.stdout.decode().strip().splitlines()[-1])
    assert stats["duplicates"] >= stored_before_kill  # the uncommitted batch came back...
    assert counts(store_engine) == (60, 60)  # ...and changed nothing


def test_sigterm_is_bounded_when_the_broker_dies(settings: Settings, store_engine: Engine) -> None:
    with EmbeddedBroker() as private:
        kafka = KafkaSettings(
            **{**settings.kafka.model_dump(), "bootstrap_servers": private.bootstrap}
        )
        msgs: list[Any] = [news(i) for i in range(200)]
        msgs[5::7] = ["{poison"] * len(msgs[5::7])  # dead letters in flight when it dies
        produce(kafka, msgs)
        env = daemon_env(
            settings,
            private.bootstrap,
            FINSENTRY_KAFKA__DLQ_TIMEOUT_S="3",
            FINSENTRY_KAFKA__PAUSE_BEFORE_COMMIT_S="0.2",
        )
        proc = subprocess.Popen(CMD, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while counts(store_engine)[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert counts(store_engine)[0] > 0
            assert private.proc is not None
            private.proc.kill()  # the broker vanishes mid-stream
            private.proc.wait(timeout=10)
            time.sleep(2)  # the daemon notices: polls fail, dead letters can't be flushed
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)  # reap it and close its pipes
    assert proc.returncode == 0, err.decode()[-2000:]
    assert took < SIGTERM_BOUND_S, f"SIGTERM took {took:.1f}s"
    assert "Traceback" not in err.decode()


def test_dead_letter_flush_is_bounded_without_a_broker() -> None:
    with EmbeddedBroker() as gone:
        kafka = KafkaSettings(bootstrap_servers=gone.bootstrap, max_block_ms=1000)
        producer = make_producer(kafka)
    # the broker is stopped now; the producer still has its metadata
    letter = DeadLetter("t", 0, 1, None, b"x", "not_json", "test")
    try:
        sink = KafkaDeadLetterSink(producer, "news.dlq.gone", timeout_s=2.0)
        started = time.monotonic()
        with pytest.raises(BrokerError):
            sink.send(letter)
            sink.flush()
        assert time.monotonic() - started < 8

        stop = threading.Event()
        stop.set()
        sink = KafkaDeadLetterSink(producer, "news.dlq.gone", stop=stop, timeout_s=60.0)
        started = time.monotonic()
        with pytest.raises(BrokerError):
            sink.send(letter)
            sink.flush()
        assert time.monotonic() - started < 5  # the stop event cuts the wait short
    finally:
        producer.close(timeout=1)
