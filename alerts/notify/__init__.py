"""Alert notifications: an outbox in the alert's transaction, delivered at least once.

The lifecycle writes notifications with :func:`enqueue` inside the transaction that opens,
repeats or resolves an alert; the scheduler calls :func:`deliver_due` every tick with the
notifiers built from :class:`NotifySettings`. Channels (log, signed webhook, Slack-compatible
webhook, SMTP email) implement :class:`Notifier` and report failures as
:class:`DeliveryError`; the outbox owns retries, backoff and the dead state. Why this shape —
outbox, at-least-once, idempotency keys — is explained in :mod:`alerts.notify.outbox`.
"""

from alerts.notify.base import DeliveryError, Notifier, NotifyError
from alerts.notify.channels import build_notifier, build_notifiers
from alerts.notify.message import NotificationMessage, TopArticle, alert_payload
from alerts.notify.outbox import (
    DeliveryReport,
    deliver_due,
    enqueue,
    idempotency_key,
    outbox_counts,
    purge_delivered,
    requeue_dead,
)
from alerts.notify.settings import (
    ChannelSettings,
    EmailChannel,
    LogChannel,
    NotifySettings,
    SlackChannel,
    WebhookChannel,
)
from alerts.notify.webhook import sign, verify_signature

__all__ = [
    "ChannelSettings",
    "DeliveryError",
    "DeliveryReport",
    "EmailChannel",
    "LogChannel",
    "NotificationMessage",
    "Notifier",
    "NotifyError",
    "NotifySettings",
    "SlackChannel",
    "TopArticle",
    "WebhookChannel",
    "alert_payload",
    "build_notifier",
    "build_notifiers",
    "deliver_due",
    "enqueue",
    "idempotency_key",
    "outbox_counts",
    "purge_delivered",
    "requeue_dead",
    "sign",
    "verify_signature",
]
