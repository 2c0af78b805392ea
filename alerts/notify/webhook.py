"""The generic webhook channel: a signed JSON POST.

Wire format (what a receiver implements)::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <alert_id>:<event>:<seq>:<channel>   same on every retry: dedupe on it
    X-Finsentry-Event: firing | repeat | resolved
    X-Finsentry-Timestamp: <unix seconds when this attempt was signed>
    X-Finsentry-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>

    {"idempotency_key": …, "event": …, "headline": …, "summary": …, "alert": {…},
     "evidence": {…}, "created_at": …}

The signed content is the timestamp's ASCII digits, one ``.`` and the raw body bytes exactly as
received (do not re-serialise the JSON). Signing the timestamp lets a receiver refuse replays:
check the signature with :func:`verify_signature`, which also rejects timestamps more than five
minutes away from its clock. The signature headers are sent only when a ``secret`` is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from alerts.notify._http import post_json, register_secrets
from alerts.notify.message import NotificationMessage
from alerts.notify.settings import WebhookChannel

USER_AGENT = "finsentry-notify/1"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``f"{timestamp}.".encode() + body``."""
    mac = hmac.new(secret.encode(), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is ours for this body and the timestamp is fresh enough."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def encode_body(message: NotificationMessage) -> bytes:
    """Compact, key-sorted JSON: the same message always gives the same bytes."""
    doc = message.as_dict()
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookNotifier:
    """POSTs :meth:`NotificationMessage.as_dict` to ``settings.url``; see the module docstring."""

    def __init__(self, settings: WebhookChannel, clock: Callable[[], float] = time.time) -> None:
        self.name = settings.name
        self._settings = settings
        self._clock = clock
        self._secrets = [v.get_secret_value() for v in settings.headers.values()]
        if settings.secret is not None:
            self._secrets.append(settings.secret.get_secret_value())
        parts = urlsplit(settings.url)
        if parts.query or parts.password:  # tokens in the URL are secrets as well
            self._secrets.append(settings.url)
        register_secrets(self._secrets)

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r})"

    def headers(self, message: NotificationMessage, body: bytes) -> dict[str, str]:
        s = self._settings
        out = {k: v.get_secret_value() for k, v in s.headers.items()}
        out.update(
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Idempotency-Key": message.idempotency_key,
                "X-Finsentry-Event": message.event,
            }
        )
        if s.secret is not None:
            ts = str(int(self._clock()))
            out["X-Finsentry-Timestamp"] = ts
            out["X-Finsentry-Signature"] = sign(s.secret.get_secret_value(), ts, body)
        return out

    def send(self, message: NotificationMessage) -> None:
        body = encode_body(message)
        post_json(
            channel=self.name,
            url=self._settings.url,
            body=body,
            headers=self.headers(message, body),
            timeout_s=self._settings.timeout_s,
            secrets=self._secrets,
        )
