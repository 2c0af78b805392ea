"""The process's Prometheus metrics: the model it runs, and the one exposition of them all.

The instruments themselves live beside the code that counts (``consumers/metrics.py``,
``alerts/metrics.py``) so those packages need nothing from ``pipeline/``; importing them here
registers every instrument on the default registry, so ``/metrics`` names all of them — with
zero values in ``finsentry serve`` — and a scrape config written against one process works
against any other.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Info, generate_latest

import alerts.metrics as alert_metrics
import consumers.metrics as consumer_metrics

MODEL_INFO = Info("finsentry_model", "The sentiment classifier this process runs.")

# every instrument finsentry exposes, by name (without the _total/_bucket suffixes)
INSTRUMENTS: tuple[str, ...] = (
    "finsentry_records_total",
    "finsentry_dead_letters_total",
    "finsentry_batch_seconds",
    "finsentry_classify_seconds",
    "finsentry_store_write_seconds",
    "finsentry_consumer_lag",
    "finsentry_alerts_fired_total",
    "finsentry_alerts_resolved_total",
    "finsentry_notifications_total",
    "finsentry_detector_lease_held",
    "finsentry_model_info",
)

__all__ = [
    "INSTRUMENTS",
    "MODEL_INFO",
    "alert_metrics",
    "consumer_lag",
    "consumer_metrics",
    "exposition",
    "set_model_info",
]


def set_model_info(name: str, version: str) -> None:
    """Label ``finsentry_model_info`` with the classifier the daemon loaded."""
    MODEL_INFO.info({"name": name, "version": version})


def model_version() -> str | None:
    """The version set by :func:`set_model_info`, or None before a model is loaded."""
    for metric in MODEL_INFO.collect():
        for sample in metric.samples:
            version = sample.labels.get("version")
            if version:
                return version
    return None


def consumer_lag() -> int | None:
    """Total lag over the partitions the consumer loop reported, None before its first report."""
    total: float | None = None
    for metric in consumer_metrics.CONSUMER_LAG.collect():
        for sample in metric.samples:
            total = (total or 0.0) + sample.value
    return None if total is None else int(total)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of the default registry and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
