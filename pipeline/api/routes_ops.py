"""Operations routes: ``/health`` for load balancers and people, ``/metrics`` for Prometheus.

``/health`` answers 200 when the store answers with the current schema (and, inside the
daemon, the broker is reachable), 503 otherwise, with the same body either way so a person
sees *what* is degraded. It never raises: every probe that fails is a ``false``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select, text

from alerts.lease import Lease
from alerts.service import LEASE_NAME
from pipeline import metrics
from pipeline.api.context import ApiContext, context
from pipeline.api.models import HealthOut
from pipeline.store.alerts_sql import SqlAlertStore
from pipeline.store.migrate import current_revision
from pipeline.store.schema import sentiments

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
Ctx = Annotated[ApiContext, Depends(context)]


T = TypeVar("T")


def _probe(what: str, fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except Exception as exc:
        log.warning("health: %s failed: %s", what, type(exc).__name__)
        return None


def _store_ok(ctx: ApiContext) -> bool:
    with ctx.engine.connect() as conn:
        conn.execute(text("select 1"))
    return True


def _stored_model_version(ctx: ApiContext) -> str | None:
    """Serve mode: the version that scored the newest stored article."""
    with ctx.engine.connect() as conn:
        v = conn.execute(
            select(sentiments.c.model_version).order_by(sentiments.c.id.desc()).limit(1)
        ).scalar()
    return None if v is None else str(v)


def _lease_holder(ctx: ApiContext) -> str | None:
    store = SqlAlertStore(ctx.engine)
    lease = Lease(store, LEASE_NAME, ctx.settings.alerts.lease_ttl_s, holder="health")
    return lease.current_holder(datetime.now(UTC))


@router.get("/health", response_model=HealthOut, summary="store, schema, broker, lease, lag")
def health(ctx: Ctx, response: Response) -> HealthOut:
    store = bool(_probe("store", lambda: _store_ok(ctx)))
    schema = store and _probe("schema", lambda: current_revision(ctx.engine)) == ctx.head_revision
    daemon = ctx.daemon
    broker = bool(_probe("broker", daemon.broker_reachable)) if daemon is not None else None
    holder = _probe("lease", lambda: _lease_holder(ctx)) if store else None
    if daemon is not None:
        lag = _probe("lag", daemon.consumer_lag)
        version = _probe("model", daemon.model_version)
    else:
        lag = None
        version = _probe("model", lambda: _stored_model_version(ctx)) if store else None
    ok = store and schema and broker is not False
    if not ok:
        response.status_code = 503
    return HealthOut(
        status="ok" if ok else "degraded",
        store=store,
        schema_current=bool(schema),
        broker=broker,
        lease_holder=holder if isinstance(holder, str) else None,
        consumer_lag=lag if isinstance(lag, int) else None,
        model_version=version if isinstance(version, str) else None,
        mode="run" if daemon is not None else "serve",
    )


@router.get(
    "/metrics",
    summary="Prometheus text exposition",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def prometheus() -> Response:
    body, content_type = metrics.exposition()
    return Response(content=body, media_type=content_type)
