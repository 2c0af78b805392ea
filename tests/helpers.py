"""Small helpers shared by tests: build articles, publish them, read a topic back."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaConsumer

from consumers.config import KafkaSettings
from consumers.kafka_io import ensure_topics, make_producer
from consumers.produce import publish
from pipeline.settings import Settings

NEG = "Acme shares plunge after profit warning"
POS = "Acme beats estimates and raises guidance"
NEU = "Acme will hold its annual general meeting on 5 May"


def news(i: int, *, source: str = "wire", text: str | None = None, **extra: Any) -> dict[str, Any]:
    base = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    msg: dict[str, Any] = {
        "id": f"a-{i}",
        "title": text or (NEG, POS, NEU)[i % 3],
        "source": source,
        "published_at": (base + timedelta(seconds=17 * i)).isoformat(),
    }
    msg.update(extra)
    return msg


def produce(kafka: KafkaSettings, messages: list[Any], topic: str | None = None) -> None:
    topic = topic or kafka.topic
    ensure_topics(kafka, [topic, kafka.dlq_topic])
    producer = make_producer(kafka)
    try:
        lines = [m if isinstance(m, str) else json.dumps(m) for m in messages]
        publish(producer, topic, lines)
    finally:
        producer.close()


def read_topic(kafka: KafkaSettings, topic: str, expected: int, timeout_s: float = 20) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    out: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                out.extend(recs)
    finally:
        consumer.close()
    return out


def daemon_env(settings: Settings, bootstrap: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for `finsentry run` as a subprocess on the test's topics, group and store."""
    return {
        **os.environ,
        "FINSENTRY_KAFKA__BOOTSTRAP_SERVERS": bootstrap or settings.kafka.bootstrap_servers,
        "FINSENTRY_KAFKA__TOPIC": settings.kafka.topic,
        "FINSENTRY_KAFKA__DLQ_TOPIC": settings.kafka.dlq_topic,
        "FINSENTRY_KAFKA__GROUP_ID": settings.kafka.group_id,
        "FINSENTRY_KAFKA__SESSION_TIMEOUT_MS": "6000",
        "FINSENTRY_KAFKA__BATCH_SIZE": "10",
        "FINSENTRY_STORE__URL": settings.store.url.get_secret_value(),
        "FINSENTRY_MODEL__NAME": "lexicon",
        "FINSENTRY_TAGGING__TOPIC_MODEL": "keywords",
        "FINSENTRY_RUN_ALERTS": "false",
        **extra,
    }
