"""The dead-letter policy: one ``on_error`` hook for messages that can't be processed.

The original bytes and key go to the dead-letter topic unchanged; the reason travels in
headers (``finsentry-reason``, ``finsentry-detail``, and where it came from), so a replay tool can
republish the exact message after a fix. Nothing is committed until the DLQ send is flushed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_DETAIL = 1000


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("finsentry-reason", self.reason.encode()),
            ("finsentry-detail", self.detail[:MAX_DETAIL].encode("utf-8", "replace")),
            ("finsentry-source-topic", self.topic.encode()),
            ("finsentry-source-partition", str(self.partition).encode()),
            ("finsentry-source-offset", str(self.offset).encode()),
        ]


class DeadLetterSink(Protocol):
    def send(self, letter: DeadLetter) -> None: ...
    def flush(self) -> None: ...


class KafkaDeadLetterSink:
    """Sends dead letters to a Kafka topic with ``acks=all``."""

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._futures: list[Any] = []

    def send(self, letter: DeadLetter) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s (%s)",
            letter.topic,
            letter.partition,
            letter.offset,
            letter.reason,
            letter.detail[:200],
        )
        self._futures.append(
            self.producer.send(
                self.topic, value=letter.value, key=letter.key, headers=letter.headers()
            )
        )

    def flush(self) -> None:
        self.producer.flush()
        futures, self._futures = self._futures, []
        for f in futures:
            f.get(timeout=30)  # raise if the DLQ write failed: then the batch is not committed
