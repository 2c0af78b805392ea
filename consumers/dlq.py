"""Dead letters: where a message that can't be processed goes, and how it gets there.

The original bytes go to the dead-letter topic unchanged; the reason travels in headers
(``finsentry-reason``, ``finsentry-detail``, the source topic/partition/offset and the source
key), and the record's *key* is the source coordinate ``topic/partition/offset``, so every copy
of one poison record's letter (its batch redelivered after a crash) carries the same key: a
reader can drop repeats by key, and an operator who sets ``cleanup.policy=compact`` on the DLQ
topic keeps one letter per record (finsentry creates the topic with the broker's defaults). In
one process, :class:`KafkaDeadLetterSink` also remembers what it delivered and does not send it
again.

A dead letter must never stall the consumer, so two things can't happen here:
- **the DLQ refuses the letter** (no key and no value, a value over the producer's request size,
  anything the producer rejects as a record): the letter is replaced by an *envelope* that fits —
  JSON with the reason, the source coordinate, the size, a SHA-256 and a prefix of the value —
  marked with the header ``finsentry-envelope: 1``;
- **the broker is away**: :meth:`KafkaDeadLetterSink.flush` waits at most ``timeout_s`` and
  gives up at once when the stop event is set, raising :class:`~pipeline.errors.BrokerError`
  (transient: the loop rewinds the batch and commits nothing).

Nothing is committed until the DLQ send is acknowledged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from kafka.errors import KafkaError, KafkaTimeoutError

from pipeline.errors import BrokerError

log = logging.getLogger(__name__)

MAX_DETAIL = 1000
ENVELOPE_PREFIX_BYTES = 2048
# Failures of a single record that resending the same bytes can't cure.
_REFUSALS = (AssertionError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str

    @property
    def coordinate(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    def headers(self) -> list[tuple[str, bytes]]:
        h = [
            ("finsentry-reason", self.reason.encode()),
            ("finsentry-detail", self.detail[:MAX_DETAIL].encode("utf-8", "replace")),
            ("finsentry-source-topic", self.topic.encode()),
            ("finsentry-source-partition", str(self.partition).encode()),
            ("finsentry-source-offset", str(self.offset).encode()),
        ]
        if self.key is not None:
            h.append(("finsentry-source-key", self.key))
        return h

    def envelope(self, why: str) -> bytes:
        """A small JSON stand-in for a letter the DLQ refused as it was."""
        value = self.value or b""
        return json.dumps(
            {
                "finsentry_envelope": 1,
                "reason": self.reason,
                "detail": self.detail[:MAX_DETAIL],
                "refused_because": why[:MAX_DETAIL],
                "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
                "has_value": self.value is not None,
                "size": len(value),
                "sha256": hashlib.sha256(value).hexdigest(),
                "prefix_b64": base64.b64encode(value[:ENVELOPE_PREFIX_BYTES]).decode(),
            }
        ).encode()


class DeadLetterSink(Protocol):
    """Where the consumer loop sends records it can't process (interface)."""

    def send(self, letter: DeadLetter) -> None: ...
    def flush(self) -> None: ...


class KafkaDeadLetterSink:
    """Sends dead letters to a Kafka topic (the producer uses ``acks=all``).

    Remembers the coordinates of the last ``remember`` letters it delivered, so a batch that is
    redelivered after a later failure doesn't dead-letter the same record twice.
    """

    def __init__(
        self,
        producer: Any,
        topic: str,
        *,
        stop: threading.Event | None = None,
        timeout_s: float = 30.0,
        remember: int = 100_000,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.stop = stop or threading.Event()
        self.timeout_s = timeout_s
        self.remember = remember
        self._pending: list[tuple[DeadLetter, Any]] = []
        self._delivered: OrderedDict[str, None] = OrderedDict()

    def send(self, letter: DeadLetter) -> None:
        if letter.coordinate in self._delivered:
            log.info("%s was dead-lettered before; not sending it again", letter.coordinate)
            return
        log.warning(
            "dead-lettering %s: %s (%s)",
            letter.coordinate,
            letter.reason,
            letter.detail[:200],
        )
        self._pending.append((letter, self._send(letter)))

    def _send(self, letter: DeadLetter, envelope_because: str | None = None) -> Any:
        headers = letter.headers()
        value = letter.value
        if envelope_because is not None:
            headers.append(("finsentry-envelope", b"1"))
            value = letter.envelope(envelope_because)
        try:
            return self.producer.send(
                self.topic, value=value, key=letter.coordinate.encode(), headers=headers
            )
        except KafkaTimeoutError as exc:  # metadata unavailable: the broker is away
            raise BrokerError(f"dead-letter topic {self.topic} unreachable: {exc}") from exc
        except (KafkaError, *_REFUSALS) as exc:
            if envelope_because is not None:
                raise BrokerError(f"dead-letter topic refused an envelope: {exc}") from exc
            log.warning("DLQ refused %s as is (%s); sending an envelope", letter.coordinate, exc)
            return self._send(letter, f"{type(exc).__name__}: {exc}")

    def flush(self) -> None:
        """Wait until every letter sent is acknowledged; bounded, and stops on ``stop``."""
        deadline = time.monotonic() + self.timeout_s
        pending, self._pending = self._pending, []
        try:
            while pending:
                letter, future = pending[0]
                if not future.is_done:
                    if self.stop.is_set():
                        raise BrokerError("stopping with dead letters unacknowledged")
                    if time.monotonic() >= deadline:
                        raise BrokerError(
                            f"dead-letter topic {self.topic} did not acknowledge within "
                            f"{self.timeout_s:.0f}s"
                        )
                    self.stop.wait(0.02)
                    continue
                pending.pop(0)
                if future.failed():
                    exc = future.exception
                    retriable = isinstance(exc, KafkaError) and getattr(exc, "retriable", False)
                    if retriable or isinstance(exc, KafkaTimeoutError):
                        raise BrokerError(f"dead-letter send failed: {exc}") from exc
                    # refused by the broker (too large, invalid record …): send the envelope
                    pending.append((letter, self._send(letter, f"{type(exc).__name__}: {exc}")))
                    continue
                self._delivered[letter.coordinate] = None
                if len(self._delivered) > self.remember:
                    self._delivered.popitem(last=False)
        except BaseException:
            self._pending = []  # the batch is rewound; its letters will be sent again
            raise
