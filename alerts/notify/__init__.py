"""Alert notifications: an outbox in the alert's transaction, delivered at least once.

The lifecycle writes notifications with :func:`enqueue` inside the transaction that opens,
repeats or resolves an alert; the scheduler calls :func:`deliver_due` every tick with the
notifiers built from :class:`NotifySettings`. Channels (log, signed webhook, Slack-compatible
webhook, SMTP email) implement :class:`Notifier` and report failures as
:class:`DeliveryError`; the outbox owns retries, backoff and the dead state. Why this shape —
outbox, at-least-once, idempotency keys — is explained in :mod:`alerts.notify.outbox`.

Nothing is imported here (import the submodule you need), so that reading the notification
settings does not pull in the database layer.
"""
