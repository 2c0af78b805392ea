"""Alert routes: list, show (with evidence and notifications), acknowledge, and silences.

Reads go through :mod:`pipeline.alert_query` (what ``finsentry alerts list|show|silence list``
call); writes through :func:`alerts.lifecycle.ack` and :mod:`alerts.silences` (what
``alerts ack`` and ``alerts silence add|expire`` call). Nothing here writes SQL of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from alerts import silences
from alerts.lifecycle import ack
from alerts.notify.message import jsonable
from pipeline.alert_query import active_silences, get_alert, get_silence, list_alerts
from pipeline.api.context import ApiContext, context
from pipeline.api.models import (
    AckIn,
    AlertDetailOut,
    AlertOut,
    AlertsOut,
    NotificationOut,
    SilenceIn,
    SilenceOut,
    SilencesOut,
)
from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.timeparse import parse_duration, parse_instant

router = APIRouter(prefix="/api", tags=["alerts"])
Ctx = Annotated[ApiContext, Depends(context)]


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return None
    return None


def alert_fields(row: dict[str, Any]) -> dict[str, Any]:
    """An alert row as the API shows it: the detector's headline numbers lifted out of the
    evidence (observed and baseline negative share, p-value, lift)."""
    ev: dict[str, Any] = jsonable(row.get("evidence") or {})
    return {
        "id": row["id"],
        "rule": row["rule"],
        "series_key": row["series_key"],
        "state": row["status"],
        "opened_at": row["started_at"],
        "last_fired_at": row["last_fired_at"],
        "resolved_at": row["resolved_at"],
        "acked_at": row["acked_at"],
        "acked_by": row["acked_by"],
        "observed": _float(ev.get("share")),
        "baseline": _float(ev.get("baseline_share")),
        "p_value": _float(ev.get("p_share")),
        "lift": _float(ev.get("lift")),
        "n": _int(ev.get("n")),
        "n_neg": _int(ev.get("n_neg")),
        "window_start": _time(ev.get("window_start")),
        "window_end": _time(ev.get("window_end")),
        "evidence": ev,
    }


def alert_detail(row: dict[str, Any]) -> AlertDetailOut:
    base = alert_fields(row)
    ev = base["evidence"]
    return AlertDetailOut(
        **base,
        top_articles=list(ev.get("top_articles") or []),
        top_words=[
            str(w[0]) if isinstance(w, list | tuple) else str(w) for w in ev.get("top_words") or []
        ],
        notifications=[NotificationOut(**n) for n in row.get("notifications", [])],
    )


def _alert_or_404(ctx: ApiContext, alert_id: int) -> dict[str, Any]:
    row = get_alert(ctx.engine, alert_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no alert with id {alert_id}")
    return row


@router.get("/alerts", response_model=AlertsOut, summary="alerts, newest first")
def get_alerts(
    ctx: Ctx,
    state: Literal["firing", "resolved", "all"] | None = None,
    since: Annotated[
        str | None, Query(description="started since (24h, 7d, ISO); firing ones always")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertsOut:
    rows = list_alerts(ctx.engine, state, parse_instant(since) if since else None, limit)
    return AlertsOut(alerts=[AlertOut(**alert_fields(r)) for r in rows])


@router.get("/alerts/{alert_id}", response_model=AlertDetailOut, summary="one alert, evidence")
def get_one_alert(ctx: Ctx, alert_id: int) -> AlertDetailOut:
    return alert_detail(_alert_or_404(ctx, alert_id))


@router.post(
    "/alerts/{alert_id}/ack", response_model=AlertDetailOut, summary="acknowledge (no repeats)"
)
def post_ack(ctx: Ctx, alert_id: int, body: AckIn) -> AlertDetailOut:
    _alert_or_404(ctx, alert_id)
    # already acknowledged: the alert as it is
    ack(SqlAlertStore(ctx.engine), alert_id, body.by.strip())
    return alert_detail(_alert_or_404(ctx, alert_id))


def silence_out(row: dict[str, Any], now: datetime | None = None) -> SilenceOut:
    now = now or datetime.now(UTC)
    return SilenceOut(
        id=row["id"],
        matchers={str(k): str(v) for k, v in (row["matchers"] or {}).items()},
        comment=row["comment"],
        created_by=row["created_by"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        active=row["starts_at"] <= now < row["ends_at"],
    )


@router.get("/silences", response_model=SilencesOut, summary="silences in force now")
def get_silences(ctx: Ctx) -> SilencesOut:
    now = datetime.now(UTC)
    return SilencesOut(silences=[silence_out(s, now) for s in active_silences(ctx.engine, now)])


@router.post("/silences", response_model=SilenceOut, status_code=201, summary="add a silence")
def post_silence(ctx: Ctx, body: SilenceIn) -> SilenceOut:
    matchers = silences.parse_matchers([f"{k}={v}" for k, v in body.matchers.items()])
    sid = silences.create(
        SqlAlertStore(ctx.engine),
        matchers,
        parse_duration(body.duration),
        comment=body.comment,
        created_by=body.by,
    )
    row = get_silence(ctx.engine, sid)
    assert row is not None
    return silence_out(row)


@router.delete("/silences/{silence_id}", response_model=SilenceOut, summary="expire a silence")
def delete_silence(ctx: Ctx, silence_id: int) -> SilenceOut:
    if get_silence(ctx.engine, silence_id) is None:
        raise HTTPException(status_code=404, detail=f"no silence with id {silence_id}")
    if not silences.expire(SqlAlertStore(ctx.engine), silence_id):
        raise HTTPException(status_code=409, detail=f"silence {silence_id} is not active")
    row = get_silence(ctx.engine, silence_id)
    assert row is not None
    return silence_out(row)
