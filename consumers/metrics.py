"""Prometheus instruments of the consumer side.

They live at module level on the default registry so that the loop only imports and counts:
no registry object travels through constructors, and `/metrics` (pipeline/api) exposes
whatever the process has counted. This module imports nothing from `pipeline/`, so the
dependency rule (consumers may import only `pipeline.errors`) holds.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "finsentry_records_total",
    "Records through the consumer loop by outcome: consumed|stored|duplicate|dead_lettered.",
    ["outcome"],
)
DEAD_LETTERS = Counter(
    "finsentry_dead_letters_total",
    "Records sent to the dead-letter topic, by reason.",
    ["reason"],
)
BATCH_SECONDS = Histogram(
    "finsentry_batch_seconds",
    "Seconds for one whole batch: poll to offset commit.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CLASSIFY_SECONDS = Histogram(
    "finsentry_classify_seconds",
    "Seconds in the model forward pass (and tagging) for one batch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
STORE_WRITE_SECONDS = Histogram(
    "finsentry_store_write_seconds",
    "Seconds for one batch's store write transaction.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONSUMER_LAG = Gauge(
    "finsentry_consumer_lag",
    "Records between the committed offset and the partition end.",
    ["topic", "partition"],
)

__all__ = [
    "BATCH_SECONDS",
    "CLASSIFY_SECONDS",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "RECORDS",
    "STORE_WRITE_SECONDS",
]
