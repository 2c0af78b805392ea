"""What every route needs, held on the app: the store engine, the settings, the explainer for
shown articles once a classifier is loaded, and — when the app runs inside the daemon — a view of
the daemon's state for ``/health``. (The detector lease holder is read from the store in both
modes: any process may hold it.)"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request
from sqlalchemy import Engine

from models.base import Classifier
from pipeline.explanations import Explainer
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# The explainer of shown articles, or None while no classifier is loaded (the articles then
# carry only the explanations already stored).
ExplainerSource = Callable[[], Explainer | None]


class DaemonState(Protocol):
    """The daemon's side of ``/health`` (``finsentry run --http``); absent in serve mode."""

    def broker_reachable(self) -> bool: ...

    def consumer_lag(self) -> int | None: ...

    def model_version(self) -> str | None: ...


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    daemon: DaemonState | None = None
    head_revision: str | None = field(default=None)
    explainer_source: ExplainerSource | None = None

    def explainer(self) -> Explainer | None:
        return self.explainer_source() if self.explainer_source is not None else None


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


class BackgroundExplainer:
    """``finsentry serve``'s explainer: the configured classifier, loaded in a thread so the
    server answers at once; until it is loaded (or if it can't be: one warning) shown articles
    carry the explanations already stored. Explanations stay faithful: only rows labelled by
    this model version are explained (:mod:`pipeline.explanations`)."""

    def __init__(self, engine: Engine, load: Callable[[], Classifier]) -> None:
        self._engine = engine
        self._load = load
        self._explain: Explainer | None = None
        self._thread = threading.Thread(target=self._run, name="finsentry-explainer", daemon=True)

    def start(self) -> BackgroundExplainer:
        self._thread.start()
        return self

    def _run(self) -> None:
        from pipeline.explanations import explainer

        try:
            classifier = self._load()
        except Exception as exc:  # any load failure: serve on without it
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("no explanations for shown articles: the model did not load: %s", first)
        else:
            self._explain = explainer(self._engine, classifier)
            log.info("explaining shown articles with %s", classifier.version)

    def __call__(self) -> Explainer | None:
        return self._explain
