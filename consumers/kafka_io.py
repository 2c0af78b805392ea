"""Thin constructors for kafka-python clients, so every client gets the same settings, and
topic creation. Standard Kafka protocol only: nothing here depends on which broker runs.

:class:`Consumer` is the part of kafka-python's ``KafkaConsumer`` the consumer loop uses, as a
Protocol: the loop is typed against it, ``make_consumer`` returns a real client that satisfies
it, and the loop's unit tests hand it a small in-memory fake instead of a broker. (The loop
also uses ``subscription()`` and ``highwater()`` where a consumer has them: rebalance handling
and the lag metric; a fake may leave them out.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import TopicPartition

from consumers.config import KafkaSettings
from pipeline.errors import BrokerError

log = logging.getLogger(__name__)


class Consumer(Protocol):
    """What the consumer loop needs of a Kafka consumer (kafka-python's ``KafkaConsumer``)."""

    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None, update_offsets: bool = True
    ) -> Mapping[TopicPartition, Sequence[ConsumerRecord]]: ...

    def commit(self, offsets: Any = None, timeout_ms: int | None = None) -> Any: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...

    def subscribe(self, topics: Any = (), pattern: Any = None, listener: Any = None) -> None: ...

    def close(self, autocommit: bool = True, timeout_ms: int | None = None) -> None: ...


def make_consumer(settings: KafkaSettings, *topics: str) -> Consumer:
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
