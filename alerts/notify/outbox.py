"""The notification outbox: rows written with the alert, delivered later, retried, never lost.

Why an outbox. Sending from inside the detector would tie the alert's fate to an endpoint's:
commit first and crash before sending, and the notification is lost; send first and roll back,
and people hear about an alert that does not exist. So :func:`enqueue` writes one ``pending``
row per channel *in the alert's own transaction* — the alert and its notifications commit or
vanish together — and :func:`deliver_due`, run by the scheduler, hands them to the channels.

Why at-least-once with idempotency keys. A row is marked ``delivered`` only after its channel
accepted it. A crash (or a lost acknowledgement, or a failed commit) between the send and the
mark re-sends the same row later — same ``Idempotency-Key`` header, same email ``Message-ID``,
same body — so nothing is lost and receivers drop duplicates by key. Exactly-once across a
network is not on offer; at-least-once plus a stable key is the honest contract. The key is
``"<alert_id>:<event>:<seq>:<channel>"``: ``seq`` is 0 for ``firing`` and ``resolved`` (once
per alert) and the repeat number or time stamp for ``repeat``; the
UNIQUE constraint on it makes :func:`enqueue` idempotent too (ON CONFLICT DO NOTHING).

Claiming. ``deliver_due`` claims up to ``batch_size`` due rows in one short, atomic store
operation (:meth:`alerts.store.AlertUnit.claim`; in SQL ``UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED LIMIT n) RETURNING …`` on PostgreSQL, the same UPDATE without the lock
clause on SQLite, whose single writer makes it atomic), which counts the attempt and pushes
``next_attempt_at`` ``claim_timeout_s`` ahead. No transaction is held open while a channel
talks to the network. Each outcome is written in its own short transaction right after its
send; a process that dies mid-batch leaves its claimed rows to become due again when the claim
times out, and one that is interrupted (KeyboardInterrupt, SystemExit) releases the rows it had
not finished so the next run takes them at once.

Retries. A transient failure (timeout, refused, 408/429/5xx, SMTP 4xx) schedules the next
attempt after ``min(backoff_base_s·2^(n−1), backoff_max_s) + U(0, backoff_base_s)`` seconds
(tenacity's ``wait_exponential + wait_random``; a longer ``Retry-After`` wins, up to
``backoff_max_s``); after ``max_attempts`` attempts, or at once on a permanent failure (400,
401, 404, SMTP 5xx), the row is ``dead``. Operators bring dead rows back with
:func:`requeue_dead`.

Unconfigured channels. A pending row whose channel is not configured (renamed, removed, a
deploy in progress) stays ``pending`` and is not attempted; its ``last_error`` says why, and it
is delivered as soon as a channel of that name exists again. Dropping it would lose the alert;
an operator who really removed the channel can ``requeue_dead``/delete it on purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from alerts.metrics import NOTIFICATIONS
from alerts.notify.base import DeliveryError, Notifier, NotifyError
from alerts.notify.message import NotificationMessage, jsonable
from alerts.notify.settings import EVENTS, NotifySettings
from alerts.store import AlertStore, AlertUnit, Claimed
from pipeline.errors import StoreError, StoreRejected

log = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
MAX_ERROR = 1000
T = TypeVar("T")


def idempotency_key(alert_id: int, event: str, channel: str, seq: int | str = 0) -> str:
    """``"<alert_id>:<event>:<seq>:<channel>"`` — what receivers dedupe on."""
    return f"{alert_id}:{event}:{seq}:{channel}"


def _aware(t: datetime, what: str) -> datetime:
    if t.tzinfo is None:
        raise NotifyError(f"{what} must be timezone-aware")
    return t.astimezone(UTC)


def enqueue(
    tx: AlertUnit,
    alert_id: int,
    event: str,
    payload: Mapping[str, Any],
    channels: Sequence[str],
    now: datetime,
    *,
    seq: int | str | None = None,
) -> list[str]:
    """Write one pending notification per channel, inside the caller's transaction.

    ``payload`` is the snapshot the message is rendered from (see
    :func:`alerts.notify.message.alert_payload`). ``seq`` tells repeats apart (a repeat number
    or a time stamp such as ``20260302T1415``; no ``:``); it defaults to 0 for
    ``firing``/``resolved`` and to ``now`` in Unix seconds for ``repeat``. Enqueueing the same
    event twice is a no-op. Returns the idempotency keys, one per channel, in order.
    """
    if event not in EVENTS:
        raise NotifyError(f"unknown notification event {event!r}; expected one of {EVENTS}")
    now = _aware(now, "now")
    if seq is None:
        seq = int(now.timestamp()) if event == "repeat" else 0
    if ":" in str(seq):
        raise NotifyError(f"seq may not contain ':' (got {seq!r})")
    keys = [idempotency_key(alert_id, event, ch, seq) for ch in dict.fromkeys(channels)]
    if not keys:
        return []
    body = jsonable(payload)
    rows = [
        {
            "alert_id": alert_id,
            "channel": ch,
            "event": event,
            "idempotency_key": key,
            "payload": body,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for ch, key in zip(dict.fromkeys(channels), keys, strict=True)
    ]
    try:
        tx.enqueue(rows)
    except StoreError as e:
        raise NotifyError(f"could not enqueue {event} notifications of alert {alert_id}") from e
    return keys


# -- delivery ---------------------------------------------------------------------------------


class Backoff:
    """The retry policy, expressed with tenacity's stop and wait strategies."""

    def __init__(self, policy: NotifySettings) -> None:
        self.max_attempts = policy.max_attempts
        self.max_s = policy.backoff_max_s
        self._retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s)
            + wait_random(0, policy.backoff_base_s),
        )

    def _state(self, attempt: int) -> RetryCallState:
        state = RetryCallState(self._retrying, None, (), {})
        state.attempt_number = attempt
        return state

    def exhausted(self, attempt: int) -> bool:
        """True when ``attempt`` (1-based) was the last one allowed."""
        return bool(self._retrying.stop(self._state(attempt)))

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        wait = float(self._retrying.wait(self._state(attempt)))
        if retry_after_s is not None:
            wait = max(wait, min(retry_after_s, self.max_s))
        return wait


@dataclass
class DeliveryReport:
    """What one :func:`deliver_due` call did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    unconfigured: int = 0  # pending rows whose channel is not configured (left pending)


def _outage(e: BaseException) -> bool:
    return isinstance(e, StoreError) and not isinstance(e, StoreRejected)


def _db_retry(fn: Callable[[], T]) -> T:
    """Short in-process retries for a blip of the database (SQLite busy, a dropped
    PostgreSQL connection); the outbox's own backoff is for the endpoints."""
    retrying = Retrying(
        retry=retry_if_exception(_outage),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=2),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return retrying(fn)


UNCONFIGURED = "channel {channel!r} is not configured; kept pending until it is"


def _note_unconfigured(store: AlertStore, configured: Sequence[str]) -> int:
    def run() -> dict[str, tuple[int, int]]:
        with store.transaction() as tx:
            return tx.mark_unconfigured(configured, UNCONFIGURED)

    lost = _db_retry(run)
    for channel, (count, marked) in lost.items():
        if marked:
            log.warning("%d notification(s) wait for channel %r: not configured", count, channel)
    return sum(count for count, _ in lost.values())


def _claim(
    store: AlertStore, channels: Sequence[str], policy: NotifySettings, now: datetime
) -> list[Claimed]:
    until = now + timedelta(seconds=policy.claim_timeout_s)

    def run() -> list[Claimed]:
        with store.transaction() as tx:
            return tx.claim(channels, policy.batch_size, now, until)

    return sorted(_db_retry(run), key=lambda r: r.id)


def _finish(store: AlertStore, row: Claimed, values: dict[str, Any], *, any_claim: bool) -> None:
    """Write one outcome; ``any_claim`` also when another deliverer re-claimed the row since
    (a success is a success; a failure must not clobber a newer claim)."""

    def run() -> None:
        with store.transaction() as tx:
            tx.finish(row, values, any_claim=any_claim)

    _db_retry(run)


def _release(store: AlertStore, rows: Iterable[Claimed], now: datetime, *, uncount: bool) -> None:
    """Make claimed rows due again now (after an interruption); best effort."""
    try:
        with store.transaction() as tx:
            for row in rows:
                tx.release(row, now, uncount=uncount)
    except Exception:  # the interruption that got us here matters more; the claim expires
        log.exception("could not release claimed notifications; they retry after the claim")


def _error_text(e: BaseException) -> str:
    text = str(e) if isinstance(e, DeliveryError) else f"{type(e).__name__}: {e}"
    return text[:MAX_ERROR]


def deliver_due(
    store: AlertStore,
    notifiers: Mapping[str, Notifier],
    policy: NotifySettings,
    now: datetime | None = None,
) -> DeliveryReport:
    """Deliver up to ``policy.batch_size`` due notifications; see the module docstring.

    ``now`` fixes the clock (tests, backfills); by default it is read at each step.
    """
    clock: Callable[[], datetime]
    if now is None:
        clock = lambda: datetime.now(UTC)  # noqa: E731
    else:
        fixed = _aware(now, "now")
        clock = lambda: fixed  # noqa: E731
    backoff = Backoff(policy)
    report = DeliveryReport()
    names = list(notifiers)
    try:
        report.unconfigured = _note_unconfigured(store, names)
        claimed = _claim(store, names, policy, clock())
    except StoreError as e:
        raise NotifyError("could not claim due notifications") from e
    report.claimed = len(claimed)
    todo = list(claimed)
    in_flight: Claimed | None = None
    try:
        while todo:
            row = todo.pop(0)
            in_flight = row
            _deliver_one(store, row, notifiers[row.channel], backoff, clock, report)
            in_flight = None
    except BaseException:
        if todo:
            _release(store, todo, clock(), uncount=True)
        if in_flight is not None:
            _release(store, [in_flight], clock(), uncount=False)
        raise
    return report


def _deliver_one(
    store: AlertStore,
    row: Claimed,
    notifier: Notifier,
    backoff: Backoff,
    clock: Callable[[], datetime],
    report: DeliveryReport,
) -> None:
    where = f"notification {row.idempotency_key} via {row.channel}"
    try:
        message = NotificationMessage.from_payload(
            idempotency_key=row.idempotency_key,
            event=row.event,
            alert_id=row.alert_id,
            payload=row.payload,
            created_at=row.created_at,
        )
        NOTIFICATIONS.labels(channel=row.channel, outcome="attempt").inc()
        notifier.send(message)
    except DeliveryError as e:
        error: Exception = e
        transient, hint = e.transient, e.retry_after_s
    except Exception as e:  # a notifier bug: retried like an outage, with the traceback logged
        log.exception("%s raised unexpectedly", where)
        error, transient, hint = e, True, None
    else:
        t = clock()
        try:
            _finish(
                store,
                row,
                {"status": DELIVERED, "delivered_at": t, "next_attempt_at": t},
                any_claim=True,
            )
        except StoreError as e:
            raise NotifyError(
                f"{where} was sent but could not be marked; it will be re-sent with the same key"
            ) from e
        report.delivered += 1
        NOTIFICATIONS.labels(channel=row.channel, outcome="delivered").inc()
        log.info("%s delivered (attempt %d)", where, row.attempts)
        return

    text = _error_text(error)
    NOTIFICATIONS.labels(channel=row.channel, outcome="failure").inc()
    t = clock()
    if transient and not backoff.exhausted(row.attempts):
        delay = backoff.delay(row.attempts, hint)
        values: dict[str, Any] = {
            "last_error": text,
            "next_attempt_at": t + timedelta(seconds=delay),
        }
        report.retrying += 1
        log.warning(
            "%s failed (attempt %d of %d): %s; next attempt in %.0fs",
            where,
            row.attempts,
            backoff.max_attempts,
            text,
            delay,
        )
    else:
        values = {"status": DEAD, "last_error": text, "next_attempt_at": t}
        report.dead += 1
        NOTIFICATIONS.labels(channel=row.channel, outcome="dead").inc()
        why = "permanent failure" if not transient else f"{row.attempts} attempts"
        log.error("%s is dead (%s): %s", where, why, text)
    try:
        _finish(store, row, values, any_claim=False)
    except StoreError as e:
        raise NotifyError(f"could not record the outcome of {where}") from e


# -- operators --------------------------------------------------------------------------------


def requeue_dead(
    store: AlertStore,
    *,
    ids: Sequence[int] | None = None,
    alert_id: int | None = None,
    channel: str | None = None,
    now: datetime | None = None,
) -> int:
    """Give dead notifications (all, or those matching) a fresh set of attempts, due now.
    Returns how many were requeued."""
    t = _aware(now, "now") if now is not None else datetime.now(UTC)
    with store.transaction() as tx:
        return tx.requeue_dead(t, ids=ids, alert_id=alert_id, channel=channel)


def purge_delivered(store: AlertStore, before: datetime) -> int:
    """Delete delivered notifications older than ``before`` (retention); pending and dead
    rows are kept. Returns how many were deleted."""
    before = _aware(before, "before")
    with store.transaction() as tx:
        return tx.purge_delivered(before)


def outbox_counts(store: AlertStore) -> dict[str, int]:
    """``{"pending": …, "delivered": …, "dead": …}``, for status pages and the CLI."""
    with store.transaction() as tx:
        counts = tx.outbox_counts()
    out = {PENDING: 0, DELIVERED: 0, DEAD: 0}
    out.update(counts)
    return out
