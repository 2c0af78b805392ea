"""Reading alerts and silences from the store: one implementation for the CLI and the API.

``finsentry alerts list|show|silence list`` and ``/api/alerts``, ``/api/silences`` call these
functions, so a person at a terminal and the dashboard always see the same rows. Writes
(ack, silence add/expire) stay where they are: :func:`alerts.lifecycle.ack` and
:mod:`alerts.silences`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pipeline.store.schema import alerts, notifications, silences

STATUSES = ("firing", "resolved")


def list_alerts(
    engine: Engine,
    status: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first. ``status`` firing|resolved (None or ``all``: both); ``since``
    keeps alerts that started since — an alert still firing is listed however old it is."""
    stmt = select(alerts)
    if since is not None:
        stmt = stmt.where((alerts.c.started_at >= since) | (alerts.c.status == "firing"))
    if status not in (None, "", "all"):
        stmt = stmt.where(alerts.c.status == status)
    stmt = stmt.order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    """One alert row with its ``notifications`` (channel, event, status, attempts, last error,
    delivered at), or None if there is no such alert."""
    with engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        if row is None:
            return None
        notes = conn.execute(
            select(
                notifications.c.channel,
                notifications.c.event,
                notifications.c.status,
                notifications.c.attempts,
                notifications.c.last_error,
                notifications.c.delivered_at,
            )
            .where(notifications.c.alert_id == alert_id)
            .order_by(notifications.c.id)
        ).mappings()
        return {**dict(row), "notifications": [dict(n) for n in notes]}


def get_silence(engine: Engine, silence_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(silences).where(silences.c.id == silence_id)).mappings().first()
    return None if row is None else dict(row)


def active_silences(engine: Engine, now: datetime | None = None) -> list[dict[str, Any]]:
    """Silences in force now, the soonest to end first."""
    from alerts.silences import active
    from pipeline.store.alerts_sql import SqlAlertStore

    rows = active(SqlAlertStore(engine), now or datetime.now(UTC))
    return sorted(rows, key=lambda s: (s["ends_at"], s["id"]))
