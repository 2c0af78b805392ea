"""uvicorn in a thread, as a context manager an ``ExitStack`` can own.

The socket is bound here, in the caller's thread, before uvicorn starts: a port in use or an
address that isn't ours is a one-line :class:`ConfigError` at startup instead of a log line
from a thread nobody watches, and port 0 gives a free port that :attr:`ApiServer.url` reports.
uvicorn installs no signal handlers off the main thread, so SIGTERM/SIGINT stay the daemon's:
they set its stop event, and leaving the context asks uvicorn to finish in-flight requests and
stop, bounded by ``stop_timeout_s``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from pydantic import SecretStr
from sqlalchemy import Engine

from pipeline.api.app import create_app
from pipeline.api.context import DaemonState, ExplainerSource
from pipeline.api.security import check_bind, resolve_token
from pipeline.errors import ConfigError
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"can't listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


class ApiServer:
    """Serve :func:`create_app` on ``settings.http`` (host, port) until closed."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        daemon_state: DaemonState | None = None,
        explainer_source: ExplainerSource | None = None,
        start_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.daemon_state = daemon_state
        self.explainer_source = explainer_source
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.host = settings.http.host
        self.port = settings.http.port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.token: SecretStr | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ApiServer:
        quiet = logging.getLogger("uvicorn.error")
        if quiet.level == logging.NOTSET:  # its start/stop chatter; warnings still show
            quiet.setLevel(logging.WARNING)
        self.token = resolve_token(self.settings.http)
        check_bind(self.host, self.token)
        app = create_app(
            self.settings,
            self.engine,
            daemon_state=self.daemon_state,
            explainer_source=self.explainer_source,
        )
        self._sock = bind(self.host, self.port)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_config=None,  # finsentry's logging: one line per record, no tracebacks
            access_log=False,
            timeout_graceful_shutdown=max(1, int(self.stop_timeout_s)),
            server_header=False,
        )
        server = uvicorn.Server(config)
        self._server = server
        sockets = [self._sock]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="finsentry-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"the HTTP server on {self.url} did not start")
            time.sleep(0.02)
        log.info("HTTP API and dashboard on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.stop_timeout_s)
            if self._thread.is_alive():
                assert self._server is not None
                self._server.force_exit = True
                self._thread.join(2.0)
                if self._thread.is_alive():
                    log.warning("the HTTP server did not stop within %.0fs", self.stop_timeout_s)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
