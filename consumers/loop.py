"""The consumer loop: poll a batch, decode, classify, tag, write ONE transaction, then commit.

Why commit here: offsets are committed only after the store transaction (and any dead-letter
sends) succeeded, so a crash anywhere before that redelivers the batch, and the store's
idempotent insert on article id makes the redelivery harmless — at-least-once delivery with
exactly-once effect on the series.

Poison is policy, in one place (:meth:`NewsConsumer.on_error`): any exception on a batch is
either

- **transient** — the store or the broker is unreachable (:class:`StoreError` that is not a
  rejection, :class:`BrokerError`, a Kafka error): back off, rewind the batch, commit nothing;
- **record** — a record was refused (:class:`StoreRejected`, a contract or classifier failure
  that escaped its own handler): *bisect* the batch to isolate the offending record(s),
  dead-letter them with a reason and their original bytes, store the rest, commit;
- **unknown** — anything else: retried ``unknown_attempts`` times as if transient, then the
  record path, so no input can hold a partition forever.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from kafka.errors import CommitFailedError, KafkaError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from consumers.contract import decode
from consumers.dlq import DeadLetter, DeadLetterSink
from consumers.records import Article, ScoredArticle
from consumers.sink import ArticleSink
from models.base import Classifier, Prediction
from pipeline.errors import BrokerError, MessageError, StoreError, StoreRejected

log = logging.getLogger(__name__)

Tags = tuple[tuple[tuple[str, float], ...], tuple[str, ...]]  # (topics with scores, entity ids)


class Tagger(Protocol):
    """Topic and entity tagging for a batch of articles (one result per article, in order).

    ``embeddings``, when given, are the classifier's pooled sentence vectors for the same
    articles (one forward pass for sentiment and topics); a tagger may use or ignore them.
    """

    def tag(
        self, articles: Sequence[Article], embeddings: Sequence[np.ndarray] | None = None
    ) -> list[Tags]: ...


class Failure(enum.Enum):
    """What :meth:`NewsConsumer.on_error` decides about an exception on a batch."""

    TRANSIENT = "transient"
    RECORD = "record"
    UNKNOWN = "unknown"


@dataclass
class LoopStats:
    batches: int = 0
    consumed: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    store_failures: int = 0
    isolated: int = 0  # records dead-lettered by bisecting a failing batch
    last_message_at: float = field(default_factory=time.monotonic)


class NewsConsumer:
    """Runs until ``stop`` is set (or, with ``idle_exit_s``, until the topic has been quiet)."""

    def __init__(
        self,
        consumer: Any,
        classifier: Classifier,
        sink: ArticleSink,
        dead_letters: DeadLetterSink,
        *,
        tagger: Tagger | None = None,
        poll_timeout_ms: int = 1000,
        max_records: int = 64,
        explain_negative: bool = True,
        store_attempts: int = 5,
        backoff_s: float = 1.0,
        unknown_attempts: int = 3,
        pause_before_commit_s: float = 0.0,
        commit_timeout_ms: int = 5_000,
        on_batch: Callable[[LoopStats], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.classifier = classifier
        self.sink = sink
        self.dead_letters = dead_letters
        self.tagger = tagger
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.explain_negative = explain_negative
        self.store_attempts = store_attempts
        self.backoff_s = backoff_s
        self.unknown_attempts = unknown_attempts
        self.pause_before_commit_s = pause_before_commit_s
        self.commit_timeout_ms = commit_timeout_ms
        self._unknown_failures: dict[tuple[tuple[str, int, int], ...], int] = {}
        self.on_batch = on_batch
        self.stats = LoopStats()

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> LoopStats:
        self.stats.last_message_at = time.monotonic()
        backoff = self.backoff_s
        while not stop.is_set():
            try:
                n = self.process_once()
                backoff = self.backoff_s
            except Exception as exc:
                # process_once re-raises only what on_error called transient (or unknown, for
                # a bounded number of tries): the batch was rewound, nothing was committed.
                if isinstance(exc, StoreError):
                    self.stats.store_failures += 1
                log.error("batch will be retried in %.0fs: %s", backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if n or not self._assigned():
                # the idle clock runs only while we own partitions: joining a group can take
                # a few seconds, and that is not "the topic is quiet"
                self.stats.last_message_at = time.monotonic()
            elif (
                idle_exit_s is not None
                and time.monotonic() - self.stats.last_message_at >= idle_exit_s
            ):
                log.info("no messages for %.0fs, stopping", idle_exit_s)
                break
        return self.stats

    def _assigned(self) -> bool:
        try:
            return bool(self.consumer.assignment())
        except (AttributeError, KafkaError):
            return True

    def process_once(self) -> int:
        """Poll one batch and see it through to the offset commit. Returns records consumed."""
        polled = self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
        records = [r for recs in polled.values() for r in recs]
        if not records:
            return 0
        try:
            self._process(records)
        except Exception:
            self._rewind(records)  # nothing committed: the batch comes back on the next poll
            raise
        if self.pause_before_commit_s:
            time.sleep(self.pause_before_commit_s)  # fault tests: a crash lands here
        try:
            self.consumer.commit(timeout_ms=self.commit_timeout_ms)
        except CommitFailedError as exc:
            # The group rebalanced under us; another member gets these records and the
            # idempotent store absorbs the redelivery.
            log.warning("offset commit failed after a rebalance: %s", exc)
        except KafkaError as exc:
            # The broker is away: the batch is stored, its offsets not yet committed. The next
            # commit covers them; a restart before that redelivers them, and the store's
            # idempotent insert absorbs it. Waiting here would only stall the loop.
            log.warning("offset commit failed (%s); the next commit will cover it", exc)
        self.stats.batches += 1
        self.stats.consumed += len(records)
        if self.on_batch is not None:
            self.on_batch(self.stats)
        return len(records)

    # -- the error policy -----------------------------------------------------------------
    @staticmethod
    def on_error(exc: BaseException) -> Failure:
        """The one decision about an exception raised while processing a batch."""
        if isinstance(exc, StoreRejected | MessageError):
            return Failure.RECORD
        if isinstance(exc, StoreError | BrokerError | KafkaError):
            return Failure.TRANSIENT
        return Failure.UNKNOWN

    def _process(self, records: Sequence[Any]) -> None:
        key = tuple((r.topic, r.partition, r.offset) for r in records[:1]) + tuple(
            (r.topic, r.partition, r.offset) for r in records[-1:]
        )
        try:
            self._handle(records)
        except Exception as exc:
            kind = self.on_error(exc)
            if kind is Failure.TRANSIENT:
                raise
            if kind is Failure.UNKNOWN:
                tries = self._unknown_failures.get(key, 0) + 1
                if tries < self.unknown_attempts:
                    self._unknown_failures = {key: tries}  # remember only the current batch
                    log.exception("batch failed unexpectedly (try %d)", tries)
                    raise
            log.warning("isolating the record(s) behind: %s", exc)
            self._isolate(records)
        self._unknown_failures.pop(key, None)

    def _isolate(self, records: Sequence[Any]) -> None:
        """Bisect ``records``: store what can be stored, dead-letter the record(s) that fail."""
        if len(records) == 1:
            try:
                self._handle(records)
            except Exception as exc:
                if self.on_error(exc) is Failure.TRANSIENT:
                    raise
                reason = exc.reason if isinstance(exc, MessageError) else _reason(exc)
                self.dead_letters.send(_letter(records[0], reason, str(exc)[:1000]))
                self.dead_letters.flush()
                self.stats.dead_lettered += 1
                self.stats.isolated += 1
            return
        mid = len(records) // 2
        for half in (records[:mid], records[mid:]):
            try:
                self._handle(half)
            except Exception as exc:
                if self.on_error(exc) is Failure.TRANSIENT:
                    raise
                self._isolate(half)

    # -- steps ----------------------------------------------------------------------------
    def _handle(self, records: Sequence[Any]) -> None:
        articles: list[Article] = []
        origins: list[Any] = []
        letters: list[DeadLetter] = []
        for rec in records:
            try:
                articles.append(
                    decode(
                        rec.value,
                        record_timestamp_ms=rec.timestamp,
                        topic=rec.topic,
                        partition=rec.partition,
                        offset=rec.offset,
                    )
                )
                origins.append(rec)
            except MessageError as exc:
                letters.append(_letter(rec, exc.reason, exc.detail))
        predictions = self._classify(articles, origins, letters)
        kept = [(a, p) for a, p in zip(articles, predictions, strict=True) if p is not None]
        tags = self._tag([a for a, _ in kept])
        items = [
            ScoredArticle(
                article=a,
                prediction=p,
                model_version=self.classifier.version,
                topics=t[0],
                entities=t[1],
            )
            for (a, p), t in zip(kept, tags, strict=True)
        ]
        new_ids = self._write(items) if items else []
        # Dead letters are flushed before the offset commit: a DLQ outage redelivers the batch.
        for letter in letters:
            self.dead_letters.send(letter)
        if letters:
            self.dead_letters.flush()
        self.stats.stored += len(new_ids)
        self.stats.duplicates += len(items) - len(new_ids)
        self.stats.dead_lettered += len(letters)

    def _classify(
        self, articles: list[Article], origins: list[Any], letters: list[DeadLetter]
    ) -> list[Prediction | None]:
        if not articles:
            return []
        texts = [a.text for a in articles]
        try:
            preds: list[Prediction | None] = list(self.classifier.classify(texts))
        except Exception as exc:  # one bad document must not sink the batch: retry one by one
            log.warning("batch classification failed (%s); classifying one by one", exc)
            preds = []
            for text, rec in zip(texts, origins, strict=True):
                try:
                    preds.append(self.classifier.classify([text])[0])
                except Exception as one_exc:
                    letters.append(_letter(rec, "classify_failed", repr(one_exc)))
                    preds.append(None)
        if self.explain_negative:
            neg = [i for i, p in enumerate(preds) if p is not None and p.label == "negative"]
            if neg:
                try:
                    explained = self.classifier.classify([texts[i] for i in neg], explain=True)
                    for i, p in zip(neg, explained, strict=True):
                        preds[i] = p
                except Exception as exc:  # explanations are a bonus, never a blocker
                    log.warning("explaining %d negative articles failed: %s", len(neg), exc)
        return preds

    def _tag(self, articles: list[Article]) -> list[Tags]:
        if self.tagger is None or not articles:
            return [((), ()) for _ in articles]
        try:
            return self.tagger.tag(articles)
        except Exception as exc:  # tags are enrichment: store the sentiment regardless
            log.warning("tagging failed for a batch, storing untagged: %s", exc)
            return [((), ()) for _ in articles]

    def _write(self, items: list[ScoredArticle]) -> list[str]:
        @retry(
            retry=retry_if_exception_type(StoreError) & retry_if_not_exception_type(StoreRejected),
            stop=stop_after_attempt(self.store_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        def attempt() -> list[str]:
            return self.sink.write_batch(items)

        return attempt()

    def _rewind(self, records: Sequence[Any]) -> None:
        """Seek every partition of the failed batch back to its first record."""
        from kafka import TopicPartition

        first: dict[Any, int] = {}
        for rec in records:
            tp = TopicPartition(rec.topic, rec.partition)
            first[tp] = min(first.get(tp, rec.offset), rec.offset)
        for tp, offset in first.items():
            try:
                self.consumer.seek(tp, offset)
            except (KafkaError, AssertionError, ValueError) as exc:  # partition revoked
                log.warning("could not rewind %s to %d: %s", tp, offset, exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StoreRejected):
        return "store_rejected"
    return "processing_failed"


def _letter(rec: Any, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        key=rec.key,
        value=rec.value,
        reason=reason,
        detail=detail,
    )
