"""The FastAPI app factory: routes, auth, errors as one JSON line, and the dashboard.

Errors: every failure is ``{"error": "<one line>"}`` with a 4xx/5xx status — bad input 400
(422 for a malformed body), unknown things 404, a store that does not answer 503, anything
unexpected 500 with the detail in the log only. A stack trace never reaches a response body.
CORS stays off: the dashboard is served by this same app, so no other origin needs it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.api import routes_alerts, routes_data, routes_ops
from pipeline.api.context import ApiContext, DaemonState, ExplainerSource
from pipeline.api.security import ASGIApp, BearerAuth, Receive, Scope, Send, resolve_token
from pipeline.errors import (
    AlertError,
    ConfigError,
    FinsentryError,
    SchemaError,
    StoreError,
    StoreRejected,
)
from pipeline.settings import Settings
from pipeline.store.migrate import head_revision

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>finsentry</title></head>
<body><h1>finsentry</h1><p>The dashboard is not installed. The API is at
<a href="/docs">/docs</a>; health at <a href="/health">/health</a>.</p></body></html>
"""


def one_line(text: object, limit: int = 300) -> str:
    s = str(text).strip()
    line = s.splitlines()[0] if s else "failed"
    return line[:limit]


def _error(status: int, message: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status, headers=headers)


def _status_of(exc: FinsentryError) -> int:
    if isinstance(exc, ConfigError | AlertError):
        return 400
    if isinstance(exc, StoreRejected):
        return 500
    if isinstance(exc, StoreError | SchemaError):
        return 503
    return 500


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _error(exc.status_code, exc.detail, getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if errors:
        e = errors[0]
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request"
        return _error(422, f"{where}: {e.get('msg', 'invalid')}")
    return _error(422, "invalid request")


async def _finsentry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FinsentryError)
    status = _status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, one_line(exc))
        return _error(status, "store unavailable" if status == 503 else "internal error")
    return _error(status, exc)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database error: %s", request.method, request.url.path, one_line(exc))
    return _error(503, "store unavailable")


class CatchAll:
    """Outermost guard: anything no handler took becomes a 500 ``{"error": …}`` and one log
    line (the traceback only at DEBUG), so neither the client nor the log gets a stack dump."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "%s %s failed: %s: %s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
                one_line(exc),
            )
            log.debug("traceback", exc_info=True)
            if not started:
                response = _error(500, "internal error")
                await response(scope, receive, send)


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    daemon_state: DaemonState | None = None,
    explainer_source: ExplainerSource | None = None,
) -> FastAPI:
    """The API (and dashboard) over ``engine``. ``daemon_state`` adds the daemon's view to
    ``/health`` (broker, lag, model); without it the app is read-only serve mode.
    ``explainer_source`` explains shown articles stored without explanation words."""
    app = FastAPI(
        title="finsentry",
        description="Financial-news sentiment series, the stories behind them, and alerts.",
        version="1",
    )
    app.state.ctx = ApiContext(
        settings=settings,
        engine=engine,
        daemon=daemon_state,
        head_revision=head_revision(engine),
        explainer_source=explainer_source,
    )
    app.include_router(routes_ops.router)
    app.include_router(routes_data.router)
    app.include_router(routes_alerts.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(FinsentryError, _finsentry_error)
    app.add_exception_handler(SQLAlchemyError, _store_error)
    # added last = outermost: auth first, and CatchAll around the rest
    app.add_middleware(CatchAll)
    app.add_middleware(
        BearerAuth, token=resolve_token(settings.http), public_routes=settings.http.public_routes
    )
    if (STATIC_DIR / "index.html").is_file():
        # the page at /, its assets at /static/… (and at /… as well: either layout works)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="assets")
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
    else:

        @app.get("/", include_in_schema=False)
        def placeholder() -> HTMLResponse:
            return HTMLResponse(PLACEHOLDER)

    return app
