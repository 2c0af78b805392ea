"""The pipelined consumer loop against a fake consumer, without a broker or a database.

``FakeKafka`` plays kafka-python's consumer in the style of httpx's ``MockTransport``: it serves
records from in-memory partitions from the current position, honours ``seek``, reports a
``highwater``, runs a rebalance listener inside ``poll`` when told to, and records every call
with the thread that made it. At every ``commit`` it checks the one rule that matters: each
committed offset covers only records that are already in the store or the dead-letter topic.
The tests run :meth:`NewsConsumer.run` (worker threads, several batches in flight) and check
ordering, rewinds after a failing step, isolation of a bad record, stop mid-batch, rebalance
and the adaptive batch size.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition

from consumers.dlq import DeadLetter
from consumers.loop import NewsConsumer
from consumers.records import ScoredArticle
from models.base import Prediction
from models.lexicon import LexiconClassifier
from pipeline.errors import StoreError, StoreRejected
from tests.consumers.records import TOPIC, Rec


def rec(p: int, off: int, title: str = "") -> Rec:
    doc = {"id": f"p{p}-{off}", "title": title or f"Acme story {p}-{off}"}
    return Rec(TOPIC, p, off, None, json.dumps(doc).encode())


@dataclass
class Store:
    """Stores in a dict; ``fail_on`` write numbers raise an outage; refuses ``poison``."""

    rows: dict[str, ScoredArticle] = field(default_factory=dict)
    inserts: int = 0  # new rows ever written: equals len(rows) unless something doubled
    writes: int = 0
    fail_on: set[int] = field(default_factory=set)
    delay_s: float = 0.0
    gate: threading.Event | None = None  # a write waits for it (stop mid-batch)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def write_batch(self, items: Sequence[ScoredArticle]) -> list[str]:
        with self.lock:
            self.writes += 1
            n = self.writes
        if self.gate is not None and n > 1:
            self.gate.wait(5)
        if self.delay_s:
            time.sleep(self.delay_s)
        if n in self.fail_on:
            raise StoreError("connection refused")
        if any("poison" in (it.article.title or "") for it in items):
            raise StoreRejected("value out of range")
        with self.lock:
            new = [it.article.id for it in items if it.article.id not in self.rows]
            for it in items:
                self.rows.setdefault(it.article.id, it)
            self.inserts += len(new)
        return new

    def has(self, p: int, off: int) -> bool:
        return f"p{p}-{off}" in self.rows


@dataclass
class Dlq:
    letters: list[DeadLetter] = field(default_factory=list)

    def send(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    def flush(self) -> None:
        pass


@dataclass
class FakeKafka:
    records: dict[int, list[Rec]]
    store: Store
    dlq: Dlq
    batch: int = 1000  # most records one poll returns, whatever max_records says
    positions: dict[int, int] = field(default_factory=dict)
    commits: list[dict[int, int]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)
    seeks: list[tuple[int, int]] = field(default_factory=list)
    max_records_seen: list[int] = field(default_factory=list)
    listener: Any = None
    revoke_next_poll: bool = False
    revoked_at: dict[int, int] | None = None

    def _call(self) -> None:
        self.threads.add(threading.get_ident())

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Rec]]:
        self._call()
        if self.revoke_next_poll and self.listener is not None:
            self.revoke_next_poll = False
            self.listener.on_partitions_revoked({TopicPartition(TOPIC, p) for p in self.records})
            self.revoked_at = dict(self.commits[-1]) if self.commits else {}
            self.listener.on_partitions_assigned({TopicPartition(TOPIC, p) for p in self.records})
        self.max_records_seen.append(max_records or 0)
        out: dict[Any, list[Rec]] = {}
        room = min(self.batch, max_records or self.batch)
        for p, recs in self.records.items():
            pos = self.positions.get(p, 0)
            chunk = recs[pos : pos + room]
            if chunk:
                out[TopicPartition(TOPIC, p)] = chunk
                self.positions[p] = pos + len(chunk)
        if not out:
            time.sleep(min(timeout_ms, 20) / 1000)
        return out

    def commit(self, offsets: dict[Any, Any] | None = None, timeout_ms: int | None = None) -> None:
        self._call()
        assert offsets is not None, "the pipelined loop commits explicit offsets"
        done = {d.offset for d in self.dlq.letters}
        snapshot = dict(self.commits[-1]) if self.commits else {}
        for tp, meta in offsets.items():
            if meta.offset < snapshot.get(tp.partition, 0):
                self.violations.append(f"offset went back on {tp.partition}: {meta.offset}")
            for off in range(meta.offset):
                if not self.store.has(tp.partition, off) and off not in done:
                    self.violations.append(f"committed {tp.partition}@{off} before storing it")
                    break
            snapshot[tp.partition] = meta.offset
        self.commits.append(snapshot)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._call()
        self.seeks.append((tp.partition, offset))
        self.positions[tp.partition] = offset

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.records}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.records[tp.partition])

    def subscription(self) -> set[str]:
        return {TOPIC}

    def subscribe(self, topics: Sequence[str] = (), listener: Any = None) -> None:
        self.listener = listener


class SlowLexicon(LexiconClassifier):
    """The lexicon with a forward pass that takes time, so batches pile up in flight."""

    def __init__(self, delay_s: float = 0.01) -> None:
        super().__init__()
        self.delay_s = delay_s

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        time.sleep(self.delay_s)
        return super().classify(texts, explain=explain)


def make(
    n: int = 200, parts: int = 2, *, batch: int = 16, **kw: Any
) -> tuple[NewsConsumer, FakeKafka, Store, Dlq]:
    store, dlq = kw.pop("store", Store()), Dlq()
    kafka = FakeKafka({p: [rec(p, i) for i in range(n)] for p in range(parts)}, store, dlq)
    kafka.batch = batch
    loop = NewsConsumer(
        kafka,
        kw.pop("classifier", SlowLexicon()),
        store,
        dlq,
        poll_timeout_ms=20,
        max_records=batch,
        max_batch=kw.pop("max_batch", batch),
        store_attempts=1,
        backoff_s=0.01,
        **kw,
    )
    return loop, kafka, store, dlq


def run(loop: NewsConsumer, idle_exit_s: float = 0.3) -> None:
    done = threading.Event()
    watchdog = threading.Timer(30, done.set)
    watchdog.start()
    try:
        loop.run(done, idle_exit_s=idle_exit_s)
    finally:
        watchdog.cancel()


def all_committed(kafka: FakeKafka, n: int) -> bool:
    return bool(kafka.commits) and all(v == n for v in kafka.commits[-1].values())


def test_commits_follow_the_store_in_order_from_one_thread() -> None:
    loop, kafka, store, _ = make(n=200, parts=2)
    run(loop)
    assert kafka.violations == []
    assert all_committed(kafka, 200) and len(kafka.commits) > 3
    assert len(store.rows) == store.inserts == 400
    assert kafka.threads == {threading.get_ident()}  # poll, commit, seek: the loop's thread
    assert loop.stats.consumed == 400 and loop.stats.stored == 400


def test_a_failing_store_rewinds_and_redelivers_without_loss_or_double() -> None:
    loop, kafka, store, _ = make(n=150, parts=2, store=Store(fail_on={3, 4, 9}))
    run(loop)
    assert kafka.violations == []
    assert kafka.seeks, "a failed batch must rewind its partitions"
    assert len(store.rows) == store.inserts == 300  # every record once, none twice
    assert all_committed(kafka, 150)
    assert loop.stats.store_failures == 3


def test_bad_input_in_the_decode_and_model_steps_is_dead_lettered() -> None:
    class Picky(SlowLexicon):
        def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
            if any("unreadable" in t for t in texts):
                raise ValueError("cannot read this")
            return super().classify(texts, explain=explain)

    loop, kafka, store, dlq = make(n=80, parts=1, classifier=Picky())
    kafka.records[0][5] = Rec(TOPIC, 0, 5, None, b"{not json")
    kafka.records[0][50] = rec(0, 50, "unreadable headline")
    run(loop)
    assert kafka.violations == []
    assert sorted((d.offset, d.reason) for d in dlq.letters) == [
        (5, "not_json"),
        (50, "classify_failed"),
    ]
    assert len(store.rows) == store.inserts == 78
    assert all_committed(kafka, 80)


def test_a_refused_record_is_isolated_in_the_pipeline() -> None:
    loop, kafka, store, dlq = make(n=64, parts=1)
    kafka.records[0][37] = rec(0, 37, "poison pill headline")
    run(loop)
    assert kafka.violations == []
    assert [(d.offset, d.reason) for d in dlq.letters] == [(37, "store_rejected")]
    assert len(store.rows) == store.inserts == 63 and not store.has(0, 37)
    assert all_committed(kafka, 64)


def test_stop_mid_batch_commits_nothing_unstored() -> None:
    gate = threading.Event()
    store = Store(gate=gate)  # the first write goes through; the next ones wait at the gate
    loop, kafka, _, _ = make(n=200, parts=1, store=store, drain_timeout_s=0.3)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    loop.run(stop)
    committed = kafka.commits[-1][0] if kafka.commits else 0
    gate.set()
    assert kafka.violations == []
    assert committed <= 16  # at most the one batch that was stored before the stop
    assert all(store.has(0, i) for i in range(committed))


def test_rebalance_finishes_batches_in_flight_before_revoking() -> None:
    loop, kafka, store, _ = make(n=120, parts=1, store=Store(delay_s=0.02))
    original = kafka.poll
    polls = [0]

    def poll(timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Rec]]:
        polls[0] += 1
        if polls[0] == 4:
            kafka.revoke_next_poll = True
        return original(timeout_ms, max_records)

    kafka.poll = poll  # type: ignore[method-assign]
    run(loop)
    assert kafka.revoked_at is not None
    # everything polled before the revoke was stored and committed inside the callback
    assert kafka.revoked_at[0] == 3 * 16
    assert kafka.violations == []
    assert len(store.rows) == store.inserts == 120


def test_batch_size_follows_the_backlog_within_the_poll_interval() -> None:
    loop, kafka, _, _ = make(n=5000, parts=1, batch=32, max_batch=512)
    kafka.batch = 5000  # the broker would hand out more: the loop asks for what it wants
    assert loop.batch_size() == 32  # nothing known yet: the live size
    loop._next[(TOPIC, 0)] = 0
    assert loop.batch_size() == 512  # 5000 behind: the largest batch
    loop._next[(TOPIC, 0)] = 4990
    assert loop.batch_size() == 32  # caught up
    loop._next[(TOPIC, 0)] = 0
    loop._per_doc_s = 0.5  # a slow model: 4 batches in flight must fit in half the interval
    assert loop.batch_size() == int(0.5 * 300 / 4 / 0.5)
    run(loop, idle_exit_s=0.2)
    assert max(kafka.max_records_seen) == 512 and kafka.violations == []
