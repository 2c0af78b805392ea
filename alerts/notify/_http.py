"""One JSON POST with httpx, its outcome mapped onto :class:`DeliveryError`, and log redaction.

Shared by the webhook and Slack channels. 2xx is delivered; 408, 425, 429 and 5xx and transport
failures (refused, reset, timeout) are transient; anything else — other 4xx, an unexpected 3xx
(redirects are not followed: a webhook that moved is a configuration to fix) — is permanent.

httpx logs every request URL at INFO on the ``httpx`` logger, and a Slack incoming-webhook URL is
a credential, so the channels register their secret strings here and a filter on the httpx
loggers masks them before any handler sees the record.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache

import httpx

from alerts.notify.base import DeliveryError, scrub

_REGISTERED: set[str] = set()
TRANSIENT_STATUS = frozenset({408, 425, 429})


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _REGISTERED:
            text = record.getMessage()
            clean = scrub(text, _REGISTERED)
            if clean != text:
                record.msg, record.args = clean, None
        return True


_FILTER = _RedactFilter()
for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactFilter) for f in _logger.filters):
        _logger.addFilter(_FILTER)


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask these strings in everything httpx and httpcore log from now on."""
    _REGISTERED.update(s for s in secrets if s)


@cache
def _tls() -> ssl.SSLContext:
    """httpx's default verification (certifi), built once: a fresh context per request costs
    tens of milliseconds."""
    return httpx.create_ssl_context()


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - (now or datetime.now(UTC))).total_seconds())


def post_json(
    *,
    channel: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    secrets: Iterable[str] = (),
) -> httpx.Response:
    """POST ``body``; return the 2xx response or raise :class:`DeliveryError` (no secrets)."""
    secrets = [s for s in secrets if s]
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, verify=_tls()) as client:
            resp = client.post(url, content=body, headers=dict(headers))
    except httpx.TimeoutException as e:
        raise _error(f"{channel}: timed out after {timeout_s:g}s", True, secrets) from _safe(
            e, secrets
        )
    except httpx.UnsupportedProtocol as e:
        raise _error(f"{channel}: {type(e).__name__}: {e}", False, secrets) from _safe(e, secrets)
    except httpx.TransportError as e:
        raise _error(f"{channel}: {type(e).__name__}: {e}", True, secrets) from _safe(e, secrets)
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        raise _error(f"{channel}: {type(e).__name__}: {e}", False, secrets) from _safe(e, secrets)
    if resp.is_success:
        return resp
    status = resp.status_code
    snippet = " ".join(resp.text[:200].split())
    text = f"{channel}: HTTP {status} {resp.reason_phrase}" + (f": {snippet}" if snippet else "")
    transient = status in TRANSIENT_STATUS or status >= 500
    hint = retry_after(resp.headers.get("retry-after")) if transient else None
    raise DeliveryError(scrub(text, secrets), transient=transient, retry_after_s=hint)


def _error(text: str, transient: bool, secrets: list[str]) -> DeliveryError:
    return DeliveryError(scrub(text, secrets), transient=transient)


def _safe(cause: BaseException, secrets: list[str]) -> BaseException | None:
    """``cause`` to chain, or None (context suppressed) if its text would reveal a secret."""
    return cause if scrub(str(cause), secrets) == str(cause) else None
