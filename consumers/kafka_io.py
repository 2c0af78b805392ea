"""Thin constructors for kafka-python clients, so every client gets the same settings, and
topic creation. Standard Kafka protocol only: nothing here depends on which broker runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.errors import BrokerError
from pipeline.settings import KafkaSettings

log = logging.getLogger(__name__)


def make_consumer(settings: KafkaSettings, *topics: str) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            *(topics or (settings.topic,)),
            bootstrap_servers=settings.bootstrap_servers,
            group_id=settings.group_id,
            client_id=settings.client_id,
            enable_auto_commit=False,  # offsets are committed after the store transaction
            auto_offset_reset=settings.auto_offset_reset,
            max_poll_records=settings.batch_size,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=max(1000, settings.session_timeout_ms // 3),
            max_poll_interval_ms=settings.max_poll_interval_ms,
        )
    except KafkaError as exc:
        raise BrokerError(
            f"can't connect a consumer to {settings.bootstrap_servers}: {exc}"
        ) from exc


def make_producer(settings: KafkaSettings) -> KafkaProducer:
    try:
        return KafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id,
            acks="all",
            retries=5,
            linger_ms=5,
            max_block_ms=settings.max_block_ms,
            request_timeout_ms=settings.request_timeout_ms,
            delivery_timeout_ms=max(
                settings.request_timeout_ms + 5, 3 * settings.request_timeout_ms
            ),
        )
    except KafkaError as exc:
        raise BrokerError(
            f"can't connect a producer to {settings.bootstrap_servers}: {exc}"
        ) from exc


def ensure_topics(
    settings: KafkaSettings, topics: Iterable[str], partitions: int = 3, replication: int = 1
) -> list[str]:
    """Create the topics that don't exist yet; returns the ones created."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers, client_id=settings.client_id
        )
    except KafkaError as exc:
        raise BrokerError(f"can't reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            try:
                admin.create_topics(
                    [NewTopic(t, partitions, replication) for t in missing], validate_only=False
                )
                log.info("created topics %s", ", ".join(missing))
            except TopicAlreadyExistsError:
                pass  # another daemon created it first
        return missing
    except KafkaError as exc:
        raise BrokerError(f"can't create topics on {settings.bootstrap_servers}: {exc}") from exc
    finally:
        admin.close()
