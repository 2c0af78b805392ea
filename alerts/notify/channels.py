"""From settings to notifiers: one :class:`Notifier` per configured channel, keyed by name."""

from __future__ import annotations

from alerts.notify.base import Notifier
from alerts.notify.log import LogNotifier
from alerts.notify.settings import (
    ChannelSettings,
    EmailChannel,
    LogChannel,
    NotifySettings,
    SlackChannel,
    WebhookChannel,
)
from alerts.notify.slack import SlackNotifier
from alerts.notify.smtp import EmailNotifier
from alerts.notify.webhook import WebhookNotifier


def build_notifier(channel: ChannelSettings) -> Notifier:
    if isinstance(channel, LogChannel):
        return LogNotifier(channel)
    if isinstance(channel, WebhookChannel):
        return WebhookNotifier(channel)
    if isinstance(channel, SlackChannel):
        return SlackNotifier(channel)
    if isinstance(channel, EmailChannel):
        return EmailNotifier(channel)
    raise TypeError(f"unknown channel settings {type(channel).__name__}")


def build_notifiers(settings: NotifySettings) -> dict[str, Notifier]:
    """What :func:`alerts.notify.outbox.deliver_due` takes: ``{channel name: notifier}``."""
    return {c.name: build_notifier(c) for c in settings.channels}
