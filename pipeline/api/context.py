"""What every route needs, held on the app: the store engine, the settings, and — when the
app runs inside the daemon — a view of the daemon's state for ``/health``. (The detector lease
holder is read from the store in both modes: any process may hold it.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request
from sqlalchemy import Engine

from pipeline.explanations import Explainer
from pipeline.settings import Settings


class DaemonState(Protocol):
    """The daemon's side of ``/health`` (``finsentry run --http``); absent in serve mode."""

    def broker_reachable(self) -> bool: ...

    def consumer_lag(self) -> int | None: ...

    def model_version(self) -> str | None: ...

    def explainer(self) -> Explainer | None:
        """Fills missing explanations of shown articles (the daemon's loaded classifier)."""
        ...


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    daemon: DaemonState | None = None
    head_revision: str | None = field(default=None)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


class DaemonView:
    """The running daemon's :class:`DaemonState`: the broker probed with a TCP connect (the
    Kafka clients belong to the consumer thread), the lag the consumer loop last reported to
    ``finsentry_consumer_lag``, and the classifier version once the model is loaded."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 1.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self.version: str | None = None
        self.explain: Explainer | None = None  # set with the version, once the model loads

    def broker_reachable(self) -> bool:
        import socket

        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection(
                    (host.strip("[]") or "127.0.0.1", int(port)), timeout=self.timeout_s
                ):
                    return True
            except (OSError, ValueError):
                continue
        return False

    def consumer_lag(self) -> int | None:
        from pipeline.metrics import consumer_lag

        return consumer_lag()

    def model_version(self) -> str | None:
        return self.version

    def explainer(self) -> Explainer | None:
        return self.explain
