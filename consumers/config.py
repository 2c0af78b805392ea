"""Kafka settings: what the consumer loop, the dead-letter producer and the topic admin need.

A plain frozen pydantic model with no environment reading of its own: the application's
``Settings`` (in ``pipeline/settings.py``) nests it as ``kafka`` (``[kafka]`` in the TOML file,
``FINSENTRY_KAFKA__BOOTSTRAP_SERVERS`` in the environment) and passes it down. It lives here,
beside the code that reads it, so ``consumers`` never has to reach up into ``pipeline`` for it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KafkaSettings(BaseModel):
    """Where the news comes from and how the consumer talks to the brokers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port…]"
    )
    topic: str = Field(default="news.raw", description="topic the crawlers publish articles to")
    dlq_topic: str = Field(default="news.dlq", description="dead-letter topic for bad messages")
    group_id: str = Field(default="finsentry", description="consumer group of the daemons")
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="where a new group starts reading"
    )
    batch_size: int = Field(
        default=64, ge=1, le=10_000, description="records per poll (max_poll_records)"
    )
    poll_timeout_ms: int = Field(default=1000, ge=10, description="how long one poll waits")
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, description="group session timeout (heartbeats every third)"
    )
    max_poll_interval_ms: int = Field(
        default=300_000, ge=10_000, description="longest gap between polls before a rebalance"
    )
    client_id: str = Field(default="finsentry", description="client id the brokers see")
    # Bounded waits: how long a send may block for metadata, how long one request may take,
    # how long the loop waits for dead letters to be acknowledged, and how long closing the
    # clients may take on shutdown, whatever the broker does.
    max_block_ms: int = Field(
        default=5_000, ge=100, description="how long a send may block waiting for metadata"
    )
    request_timeout_ms: int = Field(
        default=10_000, ge=1000, description="how long one broker request may take"
    )
    dlq_timeout_s: float = Field(
        default=15.0, gt=0, description="how long the loop waits for dead letters to be acked"
    )
    close_timeout_s: float = Field(
        default=3.0, ge=0, description="how long closing the Kafka clients may take on shutdown"
    )
    commit_timeout_ms: int = Field(
        default=5_000, ge=100, description="how long one offset commit may take"
    )
    unknown_attempts: int = Field(
        default=3,
        ge=1,
        description="retries of a batch failing in an unknown way before its records are isolated",
    )
    pause_before_commit_s: float = Field(
        default=0.0,
        ge=0,
        le=60,
        description="fault-test hook: wait between the store transaction and the offset commit;"
        " leave at 0",
    )
