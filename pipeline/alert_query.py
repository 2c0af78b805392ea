"""Reading alerts and silences for people: one path for the CLI and the API.

``finsentry alerts list|show|silence list`` and ``/api/alerts``, ``/api/silences`` call these
functions, which read through the alert store (:class:`pipeline.store.alerts_sql.SqlAlertStore`,
the same queries the lifecycle uses), so a terminal and the dashboard always see the same rows.
Writes (ack, silence add/expire) stay in :func:`alerts.lifecycle.ack` and :mod:`alerts.silences`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.store.schema import silences

# what a person is shown of each outbox row (not the payload: that is the alert again)
NOTIFICATION_FIELDS = ("channel", "event", "status", "attempts", "last_error", "delivered_at")


def list_alerts(
    engine: Engine,
    status: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first. ``status`` firing|resolved (None or ``all``: both); ``since``
    keeps alerts that started since — an alert still firing is listed however old it is."""
    with SqlAlertStore(engine).transaction() as tx:
        rows = tx.list_alerts(status, since)
    return rows if limit is None else rows[:limit]


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    """One alert row with its ``notifications`` (channel, event, status, attempts, last error,
    delivered at), or None if there is no such alert."""
    with SqlAlertStore(engine).transaction() as tx:
        row = tx.get_alert(alert_id)
        if row is None:
            return None
        notes = tx.notifications(alert_id)
    return {
        **row,
        "notifications": [{k: n.get(k) for k in NOTIFICATION_FIELDS} for n in notes],
    }


def get_silence(engine: Engine, silence_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    return None if row is None else dict(row)


def active_silences(engine: Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Silences in force now, the soonest to end first."""
    from alerts.silences import active

    rows = active(SqlAlertStore(engine), now or datetime.now(UTC))
    return sorted(rows, key=lambda s: (s["ends_at"], s["id"]))
