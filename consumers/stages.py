"""The work of one batch, as three steps the consumer loop can run in a row or on threads.

``decode`` (contract + tokenisation) → ``model`` (sentiment and topics from one forward pass)
→ ``store`` (one transaction, then the dead letters). Each step reads and fills a
:class:`Batch`; none touches the Kafka consumer, so the loop can run them on worker threads
while its own thread polls and commits (kafka-python's consumer is not thread-safe).

Poison is policy, in one place (:func:`classify_failure`): an exception on a batch is

- **transient** — the store or the broker is unreachable (:class:`StoreError` that is not a
  rejection, :class:`BrokerError`, a Kafka error): the batch fails and the loop rewinds;
- **record** — a record was refused (:class:`StoreRejected`, a contract or classifier failure
  that escaped its own handler): the step *bisects* its input to isolate the offending
  record(s), dead-letters them with a reason and their original bytes, and keeps the rest;
- **unknown** — anything else: failed like a transient error ``unknown_attempts`` times in a
  row, then the record path, so no input can hold a partition forever.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from kafka.errors import KafkaError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from consumers import metrics
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
    """What :func:`classify_failure` decides about an exception on a batch."""

    TRANSIENT = "transient"
    RECORD = "record"
    UNKNOWN = "unknown"


def classify_failure(exc: BaseException) -> Failure:
    """The one decision about an exception raised while processing a batch."""
    if isinstance(exc, StoreRejected | MessageError):
        return Failure.RECORD
    if isinstance(exc, StoreError | BrokerError | KafkaError):
        return Failure.TRANSIENT
    return Failure.UNKNOWN


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


@dataclass
class Batch:
    """One poll's records on their way through the steps; ``error`` ends the journey."""

    records: list[Any]
    seq: int = 0
    polled_at: float = field(default_factory=time.monotonic)
    articles: list[Article] = field(default_factory=list)
    origins: list[Any] = field(default_factory=list)  # the record behind each article
    letters: list[DeadLetter] = field(default_factory=list)
    tokens: Any = None  # the classifier's preprocessed input, when it tokenises ahead
    items: list[ScoredArticle] = field(default_factory=list)
    item_origins: list[Any] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    model_s: float = 0.0
    error: BaseException | None = None

    def next_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) → the offset after this batch's last record there."""
        out: dict[tuple[str, int], int] = {}
        for r in self.records:
            key = (r.topic, r.partition)
            out[key] = max(out.get(key, -1), r.offset + 1)
        return out

    def first_offsets(self) -> dict[tuple[str, int], int]:
        out: dict[tuple[str, int], int] = {}
        for r in self.records:
            key = (r.topic, r.partition)
            out[key] = min(out.get(key, r.offset), r.offset)
        return out


class BatchWork:
    """The three steps and the error policy, shared by the in-line and the threaded loop."""

    def __init__(
        self,
        classifier: Classifier,
        sink: ArticleSink,
        dead_letters: DeadLetterSink,
        stats: LoopStats,
        *,
        tagger: Tagger | None = None,
        store_attempts: int = 5,
        unknown_attempts: int = 3,
    ) -> None:
        self.classifier = classifier
        self.sink = sink
        self.dead_letters = dead_letters
        self.stats = stats
        self.tagger = tagger
        self.store_attempts = store_attempts
        self.unknown_attempts = unknown_attempts
        self._unknown_streak = 0
        self._lock = threading.Lock()
        # Tokenise in the decode step when the classifier splits preprocessing from the
        # forward pass, so tokenisation overlaps the previous batch's forward pass.
        self._ahead = callable(getattr(classifier, "preprocess", None)) and callable(
            getattr(classifier, "classify_prepared", None)
        )

    # -- policy ---------------------------------------------------------------------------
    def should_isolate(self, exc: BaseException) -> bool:
        """True: bisect now. False: fail the batch (the loop rewinds and retries it)."""
        kind = classify_failure(exc)
        if kind is Failure.RECORD:
            return True
        if kind is Failure.TRANSIENT:
            return False
        with self._lock:
            self._unknown_streak += 1
            tries = self._unknown_streak
        if tries < self.unknown_attempts:
            log.error("batch failed unexpectedly (try %d): %r", tries, exc)
            return False
        return True

    def succeeded(self) -> None:
        with self._lock:
            self._unknown_streak = 0

    # -- step 1: decode (and tokenise) ------------------------------------------------------
    def decode(self, batch: Batch) -> None:
        for rec in batch.records:
            try:
                article = decode(
                    rec.value,
                    record_timestamp_ms=rec.timestamp,
                    topic=rec.topic,
                    partition=rec.partition,
                    offset=rec.offset,
                )
            except MessageError as exc:
                batch.letters.append(letter_for(rec, exc.reason, exc.detail))
                continue
            batch.articles.append(article)
            batch.origins.append(rec)
        if self._ahead and batch.articles:
            try:
                batch.tokens = self.classifier.preprocess(  # type: ignore[attr-defined]
                    [a.text for a in batch.articles]
                )
            except Exception as exc:  # the model step tries again, text by text if need be
                log.warning("tokenising a batch failed (%s); the model step retries", exc)
                batch.tokens = None

    # -- step 2: model ----------------------------------------------------------------------
    def model(self, batch: Batch) -> None:
        started = time.perf_counter()
        try:
            self._model(batch)
        except Exception as exc:
            if not self.should_isolate(exc):
                raise
            log.warning("isolating the record(s) behind: %s", exc)
            self._isolate_model(batch)
        batch.model_s = time.perf_counter() - started
        metrics.CLASSIFY_SECONDS.observe(batch.model_s)

    def _model(self, batch: Batch) -> None:
        preds = self._classify(batch)
        kept = [
            (a, p, r)
            for a, p, r in zip(batch.articles, preds, batch.origins, strict=True)
            if p is not None
        ]
        kept_preds = [p for _, p, _ in kept]
        vectors = [p.embedding for p in kept_preds if p.embedding is not None]
        embeddings = vectors if kept_preds and len(vectors) == len(kept_preds) else None
        tags = self._tag([a for a, _, _ in kept], embeddings)
        version = self.classifier.version
        batch.items = [
            ScoredArticle(
                article=a, prediction=p, model_version=version, topics=t[0], entities=t[1]
            )
            for (a, p, _), t in zip(kept, tags, strict=True)
        ]
        batch.item_origins = [r for _, _, r in kept]

    def _isolate_model(self, batch: Batch) -> None:
        """Bisect the model step; a record that fails on its own is dead-lettered."""
        items: list[ScoredArticle] = []
        origins: list[Any] = []

        def run(articles: list[Article], recs: list[Any]) -> None:
            part = Batch(records=recs, articles=articles, origins=recs)
            try:
                self._model(part)
            except Exception as exc:
                if classify_failure(exc) is Failure.TRANSIENT:
                    raise
                if len(articles) == 1:
                    self._isolated(batch, recs[0], exc)
                    return
                mid = len(articles) // 2
                run(articles[:mid], recs[:mid])
                run(articles[mid:], recs[mid:])
                return
            items.extend(part.items)
            origins.extend(part.item_origins)

        run(list(batch.articles), list(batch.origins))
        batch.items, batch.item_origins = items, origins

    def _classify(self, batch: Batch) -> list[Prediction | None]:
        if not batch.articles:
            return []
        texts = [a.text for a in batch.articles]
        try:
            if batch.tokens is not None:
                return list(self.classifier.classify_prepared(batch.tokens))  # type: ignore[attr-defined]
            return list(self.classifier.classify(texts))
        except Exception as exc:  # one bad document must not sink the batch: retry one by one
            log.warning("batch classification failed (%s); classifying one by one", exc)
        preds: list[Prediction | None] = []
        for text, rec in zip(texts, batch.origins, strict=True):
            try:
                preds.append(self.classifier.classify([text])[0])
            except Exception as one_exc:
                batch.letters.append(letter_for(rec, "classify_failed", repr(one_exc)))
                preds.append(None)
        return preds

    def _tag(self, articles: list[Article], embeddings: Sequence[np.ndarray] | None) -> list[Tags]:
        if self.tagger is None or not articles:
            return [((), ()) for _ in articles]
        try:
            return self.tagger.tag(articles, embeddings)
        except Exception as exc:  # tags are enrichment: store the sentiment regardless
            log.warning("tagging failed for a batch, storing untagged: %s", exc)
            return [((), ()) for _ in articles]

    # -- step 3: store ----------------------------------------------------------------------
    def store(self, batch: Batch) -> None:
        """One transaction for the batch, then its dead letters (flushed before the commit: a
        dead-letter outage fails the batch, so it is redelivered rather than lost)."""
        try:
            new = self._write(batch.items) if batch.items else []
            batch.stored, batch.duplicates = len(new), len(batch.items) - len(new)
        except Exception as exc:
            if not self.should_isolate(exc):
                raise
            log.warning("isolating the record(s) behind: %s", exc)
            self._isolate_store(batch, batch.items, batch.item_origins)
        for letter in batch.letters:
            self.dead_letters.send(letter)
        if batch.letters:
            self.dead_letters.flush()
        self.succeeded()
        self.stats.stored += batch.stored
        self.stats.duplicates += batch.duplicates
        self.stats.dead_lettered += len(batch.letters)
        metrics.RECORDS.labels(outcome="stored").inc(batch.stored)
        metrics.RECORDS.labels(outcome="duplicate").inc(batch.duplicates)
        metrics.RECORDS.labels(outcome="dead_lettered").inc(len(batch.letters))
        for letter in batch.letters:
            metrics.DEAD_LETTERS.labels(reason=letter.reason).inc()

    def _isolate_store(self, batch: Batch, items: list[ScoredArticle], recs: list[Any]) -> None:
        if not items:
            return
        try:
            new = self._write(items)
        except Exception as exc:
            if classify_failure(exc) is Failure.TRANSIENT:
                raise
            if len(items) == 1:
                self._isolated(batch, recs[0], exc)
                return
            mid = len(items) // 2
            self._isolate_store(batch, items[:mid], recs[:mid])
            self._isolate_store(batch, items[mid:], recs[mid:])
            return
        batch.stored += len(new)
        batch.duplicates += len(items) - len(new)

    def _isolated(self, batch: Batch, rec: Any, exc: BaseException) -> None:
        reason = exc.reason if isinstance(exc, MessageError) else _reason(exc)
        batch.letters.append(letter_for(rec, reason, str(exc)[:1000]))
        self.stats.isolated += 1

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

        started = time.perf_counter()
        try:
            return attempt()
        except StoreError as exc:
            if not isinstance(exc, StoreRejected):
                self.stats.store_failures += 1
            raise
        finally:
            metrics.STORE_WRITE_SECONDS.observe(time.perf_counter() - started)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StoreRejected):
        return "store_rejected"
    return "processing_failed"


def letter_for(rec: Any, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        key=rec.key,
        value=rec.value,
        reason=reason,
        detail=detail,
    )
