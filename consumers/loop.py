"""The consumer loop: poll, decode → model → store on worker threads, commit in order.

Why commit here: offsets are committed only after their batch's store transaction (and its
dead-letter sends) succeeded, strictly in poll order, so a crash anywhere before that
redelivers the batch, and the store's idempotent insert on article id makes the redelivery
harmless — at-least-once delivery with exactly-once effect on the series.

Why this shape: kafka-python's consumer is not thread-safe, so this thread alone polls,
commits and seeks; the batch steps (:mod:`consumers.stages`) run on worker threads
(:mod:`consumers.pipelined`) with at most ``depth`` batches in flight, so Kafka I/O,
tokenisation and SQL hide behind the forward pass. A batch that fails transiently drops every
batch behind it, and each partition is rewound to its first uncommitted offset. On a rebalance
the loop finishes (or drops) its batches in flight and commits what was stored before the
partitions go. The batch size follows the backlog: the live size when caught up, up to
``max_batch`` when behind, never more than a batch can do well within ``max_poll_interval_ms``.

:meth:`NewsConsumer.process_once` runs one batch through the same steps on this thread; the
error policy itself lives in :mod:`consumers.stages`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Collection
from typing import Any

from kafka import TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from consumers import metrics
from consumers.dlq import DeadLetterSink
from consumers.kafka_io import Consumer
from consumers.pipelined import StageThreads
from consumers.sink import ArticleSink
from consumers.stages import (
    Batch,
    BatchWork,
    Failure,
    LoopStats,
    Tagger,
    Tags,
    classify_failure,
)
from models.base import Classifier

__all__ = ["Failure", "LoopStats", "NewsConsumer", "Tagger", "Tags"]

log = logging.getLogger(__name__)


class NewsConsumer:
    """Runs until ``stop`` is set (or, with ``idle_exit_s``, until the topic has been quiet)."""

    def __init__(
        self,
        consumer: Consumer,
        classifier: Classifier,
        sink: ArticleSink,
        dead_letters: DeadLetterSink,
        *,
        tagger: Tagger | None = None,
        poll_timeout_ms: int = 1000,
        max_records: int = 64,
        max_batch: int = 512,
        depth: int = 3,
        max_poll_interval_ms: int = 300_000,
        store_attempts: int = 5,
        backoff_s: float = 1.0,
        unknown_attempts: int = 3,
        pause_before_commit_s: float = 0.0,
        commit_timeout_ms: int = 5_000,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self.consumer = consumer
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.max_batch = max(max_batch, max_records)
        self.depth = max(1, depth)
        self.max_poll_interval_s = max_poll_interval_ms / 1000
        self.backoff_s = backoff_s
        self.pause_before_commit_s = pause_before_commit_s
        self.commit_timeout_ms = commit_timeout_ms
        self.drain_timeout_s = drain_timeout_s
        self.stats = LoopStats()
        self.work = BatchWork(
            classifier,
            sink,
            dead_letters,
            self.stats,
            tagger=tagger,
            store_attempts=store_attempts,
            unknown_attempts=unknown_attempts,
        )
        self._pending: deque[Batch] = deque()  # in flight, in poll order
        self._finished: dict[int, Batch] = {}  # back from the steps, not yet at the head
        self._stages: StageThreads | None = None
        self._seq = 0
        self._per_doc_s = 0.0  # the model step's recent seconds per record
        self._next: dict[tuple[str, int], int] = {}  # next offset to poll, per partition

    @staticmethod
    def on_error(exc: BaseException) -> Failure:
        """The one decision about an exception raised while processing a batch."""
        return classify_failure(exc)

    # -- the pipelined loop ---------------------------------------------------------------
    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> LoopStats:
        self.stats.last_message_at = time.monotonic()
        self._listen_for_rebalances()
        steps = (
            ("decode", self.work.decode),
            ("model", self.work.model),
            ("store", self.work.store),
        )
        self._stages = StageThreads(steps, self.depth)
        backoff = self.backoff_s
        try:
            while not stop.is_set():
                failed = self._collect(wait_s=0.0 if len(self._pending) < self.depth else 0.2)
                if failed is not None:
                    self._rewind_all()
                    log.error("batch will be retried in %.1fs: %s", backoff, failed.error)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 60.0)
                    continue
                if len(self._pending) >= self.depth:
                    continue
                busy = bool(self._pending)
                # with batches in flight, a short wait: the finished ones are committed soon,
                # and the thread does not spin on an empty topic
                records = self._poll(
                    min(20, self.poll_timeout_ms) if busy else self.poll_timeout_ms
                )
                if records:
                    backoff = self.backoff_s
                    self._submit(records)
                if records or busy or not self._assigned():
                    # the idle clock runs only while we own partitions: joining a group can
                    # take a few seconds, and that is not "the topic is quiet"
                    self.stats.last_message_at = time.monotonic()
                elif (
                    idle_exit_s is not None
                    and time.monotonic() - self.stats.last_message_at >= idle_exit_s
                ):
                    log.info("no messages for %.0fs, stopping", idle_exit_s)
                    break
            self._drain(timeout_s=self.drain_timeout_s)
        finally:
            self._stages.close()
            self._stages = None
        return self.stats

    def _submit(self, records: list[Any]) -> None:
        assert self._stages is not None
        self._seq += 1
        batch = Batch(records=records, seq=self._seq)
        self._pending.append(batch)
        metrics.RECORDS.labels(outcome="consumed").inc(len(records))
        self._stages.submit(batch)

    def _collect(self, wait_s: float) -> Batch | None:
        """Commit every finished batch at the head of the line; returns a failed one."""
        assert self._stages is not None
        done = self._stages.done
        try:
            got = [done.get(timeout=wait_s) if wait_s > 0 else done.get_nowait()]
        except queue.Empty:
            return None
        while not done.empty():
            got.append(done.get_nowait())
        waiting = {b.seq for b in self._pending}
        self._finished.update({b.seq: b for b in got if b.seq in waiting})
        ready: list[Batch] = []
        failed = None
        while self._pending and self._pending[0].seq in self._finished:
            head = self._finished.pop(self._pending[0].seq)
            if head.error is not None:
                failed = head
                break
            ready.append(self._pending.popleft())
        self._commit_batches(ready)
        return failed

    def _commit_batches(self, batches: list[Batch]) -> None:
        if not batches:
            return
        offsets: dict[tuple[str, int], int] = {}
        for b in batches:
            offsets.update(b.next_offsets())
            self._per_doc_s = _ewma(self._per_doc_s, b.model_s / max(len(b.records), 1))
        self._commit(offsets)
        now = time.monotonic()
        for b in batches:
            self.stats.batches += 1
            self.stats.consumed += len(b.records)
            metrics.BATCH_SECONDS.observe(now - b.polled_at)

    def _rewind_all(self) -> None:
        """Drop every batch in flight and seek each partition to its first uncommitted offset."""
        assert self._stages is not None
        self._stages.invalidate()
        first: dict[tuple[str, int], int] = {}
        for b in self._pending:
            for key, off in b.first_offsets().items():
                first[key] = min(first.get(key, off), off)
        self._pending.clear()
        self._finished.clear()
        self._seek(first)

    def _drain(self, timeout_s: float) -> None:
        """Finish the batches in flight (on stop or revoke): commit what is stored, in order,
        up to the first failure; the rest is redelivered to whoever owns the partition next."""
        deadline = time.monotonic() + timeout_s
        while self._pending and time.monotonic() < deadline:
            failed = self._collect(wait_s=0.1)
            if failed is not None:
                self._rewind_all()
                break
        if self._pending:
            log.warning("%d batch(es) unfinished at shutdown: not committed", len(self._pending))
            self._rewind_all()

    # -- one batch on this thread ---------------------------------------------------------
    def process_once(self) -> int:
        """Poll one batch and see it through to the offset commit. Returns records consumed."""
        records = self._poll(self.poll_timeout_ms)
        if not records:
            return 0
        batch = Batch(records=records)
        metrics.RECORDS.labels(outcome="consumed").inc(len(records))
        try:
            self.work.decode(batch)
            self.work.model(batch)
            self.work.store(batch)
        except Exception:
            self._seek(batch.first_offsets())  # nothing committed: the batch comes back
            raise
        self._commit(None)  # nothing else in flight: the consumed positions are this batch
        self.stats.batches += 1
        self.stats.consumed += len(records)
        metrics.BATCH_SECONDS.observe(time.monotonic() - batch.polled_at)
        return len(records)

    # -- Kafka, on this thread only -------------------------------------------------------
    def _poll(self, timeout_ms: int) -> list[Any]:
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.batch_size())
        records = [r for recs in polled.values() for r in recs]
        for r in records:
            self._next[(r.topic, r.partition)] = r.offset + 1
        if records:
            self._update_lag()
        return records

    def batch_size(self) -> int:
        """The live size when caught up; up to ``max_batch`` when behind; bounded so that
        ``depth`` batches finish well within ``max_poll_interval_ms``."""
        lag = sum(self._lags().values())
        size = self.max_records if lag <= self.max_records else min(self.max_batch, lag)
        if self._per_doc_s > 0:
            budget = 0.5 * self.max_poll_interval_s / (self.depth + 1)
            size = min(size, max(1, int(budget / self._per_doc_s)))
        return max(1, size)

    def _lags(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        highwater = getattr(self.consumer, "highwater", None)
        if highwater is None:
            return out
        for (topic, part), nxt in self._next.items():
            try:
                hw = highwater(TopicPartition(topic, part))
            except (KafkaError, AssertionError, KeyError):
                continue
            if hw is not None:
                out[(topic, part)] = max(0, int(hw) - nxt)
        return out

    def _update_lag(self) -> None:
        for (topic, part), lag in self._lags().items():
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(part)).set(lag)

    def _commit(self, offsets: dict[tuple[str, int], int] | None) -> None:
        if self.pause_before_commit_s:
            time.sleep(self.pause_before_commit_s)  # fault tests: a crash lands here
        try:
            if offsets is None:
                self.consumer.commit(timeout_ms=self.commit_timeout_ms)
            else:
                self.consumer.commit(
                    offsets={
                        TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
                        for (t, p), o in offsets.items()
                    },
                    timeout_ms=self.commit_timeout_ms,
                )
        except CommitFailedError as exc:
            # The group rebalanced under us; another member gets these records and the
            # idempotent store absorbs the redelivery.
            log.warning("offset commit failed after a rebalance: %s", exc)
        except KafkaError as exc:
            # The broker is away: the batch is stored, its offsets not yet committed. The next
            # commit covers them; a restart before that redelivers them, and the store's
            # idempotent insert absorbs it. Waiting here would only stall the loop.
            log.warning("offset commit failed (%s); the next commit will cover it", exc)

    def _seek(self, first: dict[tuple[str, int], int]) -> None:
        for (topic, part), offset in first.items():
            tp = TopicPartition(topic, part)
            self._next[(topic, part)] = offset
            try:
                self.consumer.seek(tp, offset)
            except (KafkaError, AssertionError, ValueError) as exc:  # partition revoked
                log.warning("could not rewind %s to %d: %s", tp, offset, exc)

    def _assigned(self) -> bool:
        try:
            return bool(self.consumer.assignment())
        except (AttributeError, KafkaError):
            return True

    def _listen_for_rebalances(self) -> None:
        """Re-subscribe with a listener, so a revoke finishes the batches in flight first."""
        subscription = getattr(self.consumer, "subscription", None)
        topics = subscription() if callable(subscription) else None
        if topics:
            self.consumer.subscribe(topics=sorted(topics), listener=_Rebalance(self))

    def on_revoked(self, revoked: Collection[Any]) -> None:
        """Called inside ``poll`` on this thread before partitions go to another member."""
        if self._stages is not None and self._pending:
            log.info("rebalance: finishing %d batch(es) in flight", len(self._pending))
            self._drain(timeout_s=max(5.0, self.max_poll_interval_s / 4))
        for tp in revoked:
            self._next.pop((tp.topic, tp.partition), None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: NewsConsumer) -> None:
        self.loop = loop

    def on_partitions_revoked(self, revoked: Collection[Any]) -> None:
        self.loop.on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Collection[Any]) -> None:
        log.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in assigned))


def _ewma(old: float, new: float, alpha: float = 0.3) -> float:
    return new if old <= 0 else (1 - alpha) * old + alpha * new
