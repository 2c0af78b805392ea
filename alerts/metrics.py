"""Prometheus instruments of the alerting side.

Module-level on the default registry, like consumers/metrics.py: the lifecycle, the outbox
and the lease only count; `/metrics` (pipeline/api) exposes. No import from `pipeline/`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS_FIRED = Counter(
    "finsentry_alerts_fired_total",
    "Alerts opened, by rule.",
    ["rule"],
)
ALERTS_RESOLVED = Counter(
    "finsentry_alerts_resolved_total",
    "Alerts resolved, by rule.",
    ["rule"],
)
NOTIFICATIONS = Counter(
    "finsentry_notifications_total",
    "Notification deliveries by channel and outcome: attempt|failure|dead|delivered.",
    ["channel", "outcome"],
)
LEASE_HELD = Gauge(
    "finsentry_detector_lease_held",
    "1 while this process holds the single-active-detector lease, else 0.",
)

__all__ = ["ALERTS_FIRED", "ALERTS_RESOLVED", "LEASE_HELD", "NOTIFICATIONS"]
