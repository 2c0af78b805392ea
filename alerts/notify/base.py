"""The seam between the outbox and the channels: :class:`Notifier` and :class:`DeliveryError`.

A notifier does one thing — try to hand one message to one destination, once — and reports
failure by raising :class:`DeliveryError`, saying whether trying again later could help. Retries,
backoff, bookkeeping and the dead state belong to the outbox, so every channel gets the same
guarantees and a test can stand a fake notifier in for a real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pipeline.errors import AlertError

if TYPE_CHECKING:
    from alerts.notify.message import NotificationMessage

REDACTED = "***"


class NotifyError(AlertError):
    """Notification enqueueing or delivery failed."""


class DeliveryError(NotifyError):
    """One delivery attempt failed.

    ``transient``: the same message may succeed later (timeout, connection refused, 408, 429,
    5xx, SMTP 4xx) — the outbox retries with backoff. Otherwise the message can never be
    delivered as configured (400, 401, 404, SMTP 5xx, bad TLS setup) and the row goes dead at
    once. ``retry_after_s`` carries a server's ``Retry-After`` hint. The message must hold no
    secret: it is logged and stored in ``notifications.last_error``.
    """

    def __init__(self, message: str, *, transient: bool, retry_after_s: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after_s = retry_after_s


@runtime_checkable
class Notifier(Protocol):
    """One configured channel. ``send`` delivers ``message`` or raises :class:`DeliveryError`.

    ``send`` may be called again with the same ``message.idempotency_key`` after a crash or a
    lost acknowledgement: delivery is at-least-once and the key is what receivers dedupe on.
    """

    name: str

    def send(self, message: NotificationMessage) -> None: ...


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***`` (longest first)."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return text
