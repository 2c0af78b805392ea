"""The consumer loop's error policy against small fakes of its seams (no broker, no database).

A fake consumer in the style of httpx's ``MockTransport``: it serves records from in-memory
partitions, honours ``seek`` and records every ``commit``, so the tests can check that offsets
are committed only after the store write, that a failing batch is rewound, and that a record
the store refuses is isolated by bisection and dead-lettered while the rest of its batch is
stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError

from consumers.dlq import DeadLetter
from consumers.loop import Failure, NewsConsumer
from consumers.records import ScoredArticle
from models.lexicon import LexiconClassifier
from pipeline.errors import StoreError, StoreRejected
from tests.consumers.records import TOPIC, Rec


@dataclass
class FakeConsumer:
    """Serves ``records`` per partition from the current position; ``commit`` commits the
    positions of everything polled so far (as kafka-python does)."""

    records: dict[int, list[Rec]]
    batch: int = 8
    positions: dict[int, int] = field(default_factory=dict)
    committed: list[dict[int, int]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def poll(self, timeout_ms: int = 0, max_records: int = 8) -> dict[Any, list[Rec]]:
        out: dict[Any, list[Rec]] = {}
        for p, recs in self.records.items():
            pos = self.positions.get(p, 0)
            chunk = recs[pos : pos + min(self.batch, max_records)]
            if chunk:
                out[TopicPartition(TOPIC, p)] = chunk
                self.positions[p] = pos + len(chunk)
        if out:
            self.events.append("poll")
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.events.append(f"seek {tp.partition}@{offset}")
        self.positions[tp.partition] = offset

    def commit(self, timeout_ms: int | None = None) -> None:
        self.events.append("commit")
        self.committed.append(dict(self.positions))

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.records}


@dataclass
class FakeSink:
    """Stores in a dict; refuses articles whose title contains ``poison``; can be 'down'."""

    stored: dict[str, ScoredArticle] = field(default_factory=dict)
    down_for: int = 0
    events: list[str] | None = None
    unknown_for: set[str] = field(default_factory=set)

    def write_batch(self, items: Sequence[ScoredArticle]) -> list[str]:
        if self.down_for > 0:
            self.down_for -= 1
            raise StoreError("connection refused")
        for it in items:
            if "poison" in (it.article.title or ""):
                raise StoreRejected("value out of range")
            if it.article.id in self.unknown_for:
                raise RuntimeError("driver bug")
        new = [it.article.id for it in items if it.article.id not in self.stored]
        for it in items:
            self.stored.setdefault(it.article.id, it)
        if self.events is not None:
            self.events.append("store")
        return new


@dataclass
class FakeDlq:
    letters: list[DeadLetter] = field(default_factory=list)
    down: bool = False

    def send(self, letter: DeadLetter) -> None:
        if self.down:
            from pipeline.errors import BrokerError

            raise BrokerError("dlq unreachable")
        self.letters.append(letter)

    def flush(self) -> None:
        pass


def rec(p: int, off: int, title: str | None, raw: bytes | None = None) -> Rec:
    value = raw if raw is not None else json.dumps({"id": f"p{p}-{off}", "title": title}).encode()
    return Rec(TOPIC, p, off, None, value)


def make_loop(consumer: FakeConsumer, sink: FakeSink, dlq: FakeDlq, **kw: Any) -> NewsConsumer:
    return NewsConsumer(
        consumer,
        LexiconClassifier(),
        sink,
        dlq,
        store_attempts=1,
        backoff_s=0.0,
        **kw,
    )


def drain(loop: NewsConsumer, max_rounds: int = 50) -> None:
    for _ in range(max_rounds):
        try:
            if loop.process_once() == 0:
                return
        except Exception as exc:  # what run() does: back off and poll again
            assert loop.on_error(exc) is not Failure.RECORD
    raise AssertionError("the loop did not drain")


def test_commit_follows_the_store_write() -> None:
    consumer = FakeConsumer({0: [rec(0, i, f"Acme story {i}") for i in range(5)]}, batch=5)
    sink = FakeSink(events=consumer.events)
    drain(make_loop(consumer, sink, FakeDlq()))
    assert consumer.events[:3] == ["poll", "store", "commit"]
    assert consumer.committed[-1] == {0: 5}


def test_outage_rewinds_and_commits_nothing_until_stored() -> None:
    consumer = FakeConsumer({0: [rec(0, i, f"Acme story {i}") for i in range(4)]}, batch=4)
    sink = FakeSink(down_for=2)
    loop = make_loop(consumer, sink, FakeDlq())
    with pytest.raises(StoreError):
        loop.process_once()
    assert consumer.committed == [] and consumer.positions[0] == 0  # rewound
    drain(loop)
    assert sorted(sink.stored) == [f"p0-{i}" for i in range(4)]
    assert consumer.committed[-1] == {0: 4}


def test_a_refused_record_is_isolated_and_the_rest_stored() -> None:
    recs = [rec(0, i, f"Acme story {i}") for i in range(16)]
    recs[11] = rec(0, 11, "poison pill headline")
    consumer = FakeConsumer({0: recs}, batch=16)
    sink, dlq = FakeSink(), FakeDlq()
    loop = make_loop(consumer, sink, dlq)
    drain(loop)
    assert len(sink.stored) == 15 and "p0-11" not in sink.stored
    assert [(d.offset, d.reason) for d in dlq.letters] == [(11, "store_rejected")]
    assert dlq.letters[0].value == recs[11].value
    assert consumer.committed[-1] == {0: 16}
    assert loop.stats.isolated == 1


def test_unknown_failures_are_retried_then_isolated() -> None:
    consumer = FakeConsumer({0: [rec(0, i, f"Acme story {i}") for i in range(6)]}, batch=6)
    sink, dlq = FakeSink(unknown_for={"p0-2"}), FakeDlq()
    loop = make_loop(consumer, sink, dlq, unknown_attempts=3)
    for _ in range(2):  # two tries behave like an outage: rewind, nothing committed
        with pytest.raises(RuntimeError):
            loop.process_once()
        assert consumer.committed == []
    assert loop.process_once() == 6  # third try: the record path
    assert sorted(sink.stored) == ["p0-0", "p0-1", "p0-3", "p0-4", "p0-5"]
    assert [(d.offset, d.reason) for d in dlq.letters] == [(2, "processing_failed")]


def test_dead_letter_outage_is_transient() -> None:
    consumer = FakeConsumer({0: [rec(0, 0, "ok story"), rec(0, 1, None, b"{not json")]})
    sink, dlq = FakeSink(), FakeDlq(down=True)
    loop = make_loop(consumer, sink, dlq)
    with pytest.raises(Exception) as info:
        loop.process_once()
    assert loop.on_error(info.value) is Failure.TRANSIENT
    assert consumer.committed == [] and consumer.positions[0] == 0
    dlq.down = False
    drain(loop)
    assert [d.reason for d in dlq.letters] == ["not_json"]
    assert consumer.committed[-1] == {0: 2}


def test_policy_table() -> None:
    assert NewsConsumer.on_error(StoreRejected("x")) is Failure.RECORD
    assert NewsConsumer.on_error(StoreError("x")) is Failure.TRANSIENT
    assert NewsConsumer.on_error(KafkaConnectionError()) is Failure.TRANSIENT
    assert NewsConsumer.on_error(ZeroDivisionError()) is Failure.UNKNOWN


def test_run_stops_on_the_event() -> None:
    consumer = FakeConsumer({0: [rec(0, i, f"Acme story {i}") for i in range(3)]})
    loop = make_loop(consumer, FakeSink(down_for=10_000), FakeDlq())
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    stats = loop.run(stop)
    timer.join()
    assert stats.store_failures >= 1 and consumer.committed == []
