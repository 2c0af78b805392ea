"""Silences: time-boxed matchers that suppress notifications (not detection).

A silence matches an alert when every matcher matches: ``series_key`` and ``rule`` are glob
patterns (``entity:ACME*``, ``topic:*``). A silenced alert still fires and resolves in the
store — the record stays complete — but no notification is queued while the silence lasts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.store import AlertStore, AlertUnit
from pipeline.errors import AlertError

MATCHER_FIELDS = ("series_key", "rule")


def parse_matchers(items: list[str]) -> dict[str, str]:
    """``["series_key=entity:ACME*", "rule=neg_spike"]`` → dict; bare values mean series_key."""
    out: dict[str, str] = {}
    for item in items:
        field, sep, pattern = item.partition("=")
        if not sep:
            field, pattern = "series_key", item
        field = field.strip()
        if field not in MATCHER_FIELDS:
            raise AlertError(f"unknown matcher field {field!r}: use {', '.join(MATCHER_FIELDS)}")
        if not pattern.strip():
            raise AlertError(f"empty pattern for {field}")
        out[field] = pattern.strip()
    if not out:
        raise AlertError("a silence needs at least one matcher")
    return out


def matches(matchers: Mapping[str, Any], rule: str, series_key: str) -> bool:
    values = {"rule": rule, "series_key": series_key}
    return all(
        fnmatch.fnmatchcase(values.get(field, ""), str(pattern))
        for field, pattern in matchers.items()
    )


def create(
    store: AlertStore,
    matchers: Mapping[str, str],
    duration: timedelta,
    *,
    comment: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> int:
    now = now or datetime.now(UTC)
    if duration <= timedelta(0):
        raise AlertError("a silence needs a positive duration")
    with store.transaction() as tx:
        return tx.add_silence(matchers, now, now + duration, comment, created_by)


def expire(store: AlertStore, silence_id: int, now: datetime | None = None) -> bool:
    with store.transaction() as tx:
        return tx.expire_silence(silence_id, now or datetime.now(UTC))


def active(store: AlertStore, now: datetime | None = None) -> list[dict[str, Any]]:
    """The silences in force at ``now``, by id."""
    with store.transaction() as tx:
        return tx.active_silences(now or datetime.now(UTC))


def silenced_by(tx: AlertUnit, rule: str, series_key: str, now: datetime) -> int | None:
    """The id of an active silence matching this alert, or None (inside the alert's unit)."""
    for s in tx.active_silences(now):
        if matches(s["matchers"], rule, series_key):
            return int(s["id"])
    return None
