"""What the fake consumers of the loop tests serve: kafka-python's ``ConsumerRecord`` fields the
loop reads, on one topic."""

from __future__ import annotations

from dataclasses import dataclass

TOPIC = "news.raw"


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int = 1_764_000_000_000
