"""Real endpoints for the notification tests: an HTTP receiver and an SMTP server.

:class:`Receiver` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 that records every request,
answers from a script of status codes, and checks the webhook signature with its own HMAC code
(not finsentry's), the way a third-party receiver would. :func:`smtp_server` runs aiosmtpd.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from alerts.store import AlertUnit

NOW = datetime(2026, 3, 2, 14, 15, tzinfo=UTC)

EVIDENCE: dict[str, Any] = {
    "rule": "neg_spike",
    "series_key": "entity:ACME",
    "window_start": "2026-03-02T14:00:00+00:00",
    "window_end": "2026-03-02T14:15:00+00:00",
    "n": 50,
    "n_neg": 21,
    "share": 0.42,
    "baseline_share": 0.12,
    "lift": 3.5,
    "p_share": 1.2e-06,
    "z_share": 4.87,
    "top_articles": [
        {
            "id": "a1",
            "title": "ACME cuts full-year guidance as orders slump",
            "score": -0.91,
            "explanation": [["cuts", 0.52], ["slump", 0.31]],
        },
        {
            "id": "a2",
            "title": "Regulator opens probe into ACME accounting",
            "score": -0.84,
            "explanation": [["probe", 0.44]],
        },
    ],
    "top_words": [["cuts", 0.52], ["probe", 0.44]],
}


def free_port() -> int:
    """A loopback port nobody listens on (closed again before returning)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def insert_alert(
    tx: AlertUnit,
    *,
    key: str = "entity:ACME",
    status: str = "firing",
    now: datetime = NOW,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An alert row as the lifecycle would write it; returns it as a dict with its id."""
    values: dict[str, Any] = {
        "fingerprint": f"neg_spike:{key}",
        "rule": "neg_spike",
        "series_key": key,
        "status": status,
        "started_at": now - timedelta(minutes=15),
        "last_fired_at": now,
        "resolved_at": now + timedelta(hours=1) if status == "resolved" else None,
        "normal_streak": 0,
        "evidence": EVIDENCE if evidence is None else evidence,
        "created_at": now,
        "updated_at": now,
    }
    return {"id": tx.insert_alert(values), **values}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None
    status: int | None = None  # None: the connection was dropped before an answer

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint. ``script``: status codes for the next requests, then ``default``."""

    secret: str | None = None
    port: int = 0
    script: list[int] = field(default_factory=list)
    default: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    hang_on: int | None = None  # request number (0-based) held until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                rec = Received(self.path, headers, body, receiver._check(headers, body))
                with receiver._lock:
                    index = len(receiver.requests)
                    receiver.requests.append(rec)
                    status = receiver.script.pop(0) if receiver.script else receiver.default
                if receiver.hang_on == index:
                    receiver.release.wait(30)
                    self.close_connection = True
                    return
                if receiver.delay_s:
                    threading.Event().wait(receiver.delay_s)
                payload = b"ok" if status < 300 else b"nope"
                self.send_response(status)
                if receiver.retry_after and status in (429, 503):
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                rec.status = status

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client killed mid-request is part of the tests

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _check(self, headers: dict[str, str], body: bytes) -> bool | None:
        if self.secret is None:
            return None
        ts = headers.get("x-finsentry-timestamp", "")
        mac = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(
            "sha256=" + mac.hexdigest(), headers.get("x-finsentry-signature", "")
        )

    def received(self) -> Counter[str]:
        """Requests per idempotency key."""
        return Counter(r.key for r in self.requests)

    def accepted(self) -> Counter[str]:
        """2xx answers per idempotency key: what the receiver acted on."""
        return Counter(r.key for r in self.requests if r.status is not None and r.status < 300)


@dataclass
class Mailbox:
    """aiosmtpd handler that keeps every message it accepts."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on a free loopback port; with ``login`` it offers AUTH (over plain
    SMTP: loopback only)."""
    box = Mailbox()
    kwargs: dict[str, Any] = {}
    if login is not None:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and (
                    data.login.decode(),
                    data.password.decode(),
                )
                == login
            )
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False}
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()
