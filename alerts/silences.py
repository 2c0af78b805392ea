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

from sqlalchemy import Connection, Engine, select, update

from pipeline.errors import AlertError
from pipeline.store.schema import silences

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
    engine: Engine,
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
    with engine.begin() as conn:
        res = conn.execute(
            silences.insert().values(
                matchers=dict(matchers),
                comment=comment,
                created_by=created_by,
                starts_at=now,
                ends_at=now + duration,
                created_at=now,
            )
        )
        pk = res.inserted_primary_key
        assert pk is not None
        return int(pk[0])


def expire(engine: Engine, silence_id: int, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        res = conn.execute(
            update(silences)
            .where(silences.c.id == silence_id, silences.c.ends_at > now)
            .values(ends_at=now)
        )
    return bool(res.rowcount)


def active(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(silences).where(silences.c.starts_at <= now, silences.c.ends_at > now)
    ).mappings()
    return [dict(r) for r in rows]


def silenced_by(conn: Connection, rule: str, series_key: str, now: datetime) -> int | None:
    """The id of an active silence matching this alert, or None."""
    for s in active(conn, now):
        if matches(s["matchers"], rule, series_key):
            return int(s["id"])
    return None
