"""Who may call the API: loopback by default, a bearer token for anything wider.

* ``resolve_token`` reads the token from the settings (``SecretStr``) or a token file; it is
  never logged, and compared with :func:`hmac.compare_digest` (no timing oracle).
* ``check_bind`` refuses a non-loopback address without a token, in one line, before any socket
  is opened: an API that answers the whole network must not answer everyone.
* ``BearerAuth`` (an ASGI middleware, so it guards every route the app has, ``/docs`` and the
  OpenAPI schema included) asks for the token on every path but the public ones
  (``/health``, ``/metrics`` by default) and the dashboard's static shell — HTML, script and
  style with no data in them, which a browser must be able to load before it can send a
  header; the shell asks for the token and sends it with every API call. Write methods (ack,
  silences) need the token whenever one is set, public paths or not.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from pydantic import SecretStr

from pipeline.errors import ConfigError
from pipeline.settings import HttpSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# paths that carry data or describe it; anything else is the dashboard's static shell
GUARDED_PREFIXES = ("/api", "/docs", "/redoc", "/openapi.json", "/health", "/metrics")


def resolve_token(http: HttpSettings) -> SecretStr | None:
    """The bearer token from ``http.token`` or ``http.token_file`` (first line, stripped)."""
    if http.token is not None and http.token_file is not None:
        raise ConfigError("set http.token or http.token_file, not both")
    if http.token is not None:
        if not http.token.get_secret_value().strip():
            raise ConfigError("http.token is empty")
        return SecretStr(http.token.get_secret_value().strip())
    if http.token_file is None:
        return None
    try:
        lines = http.token_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"can't read http.token_file {http.token_file}: {exc}") from exc
    token = lines[0].strip() if lines else ""
    if not token:
        raise ConfigError(f"http.token_file {http.token_file} is empty")
    return SecretStr(token)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_bind(host: str, token: SecretStr | None) -> None:
    """Raise :class:`ConfigError` for a non-loopback bind without a token."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host} without a token: set http.token or http.token_file "
            "(FINSENTRY_HTTP__TOKEN_FILE), or bind 127.0.0.1"
        )


def _public(path: str, public_routes: Sequence[str]) -> bool:
    for route in public_routes:
        if route.endswith("*") and path.startswith(route[:-1]):
            return True
        if path == route or path == route.rstrip("/"):
            return True
    return not any(path == p or path.startswith(p + "/") for p in GUARDED_PREFIXES)


def token_matches(header: str | None, token: SecretStr) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.get_secret_value().encode())


class BearerAuth:
    """ASGI middleware: 401 ``{"error": …}`` unless the request may pass (see module doc)."""

    def __init__(
        self, app: ASGIApp, token: SecretStr | None, public_routes: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.token = token
        self.public_routes = tuple(public_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET").upper()
        path = scope.get("path", "/")
        if method in READ_METHODS and _public(path, self.public_routes):
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if token_matches(header, self.token):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "missing or wrong bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
