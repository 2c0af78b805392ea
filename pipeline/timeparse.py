"""Durations and instants as people type them: ``15m``, ``24h``, ``7d``, ``2w`` or ISO-8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pipeline.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PANDAS = {"s": "s", "sec": "s", "m": "min", "min": "min", "h": "h", "d": "D", "w": "W"}


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 30s, 15m, 24h, 7d, 2w)")
    try:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    except OverflowError as exc:
        raise ConfigError(f"duration too large: {text!r}") from exc


def pandas_freq(text: str) -> str:
    """``1h`` → ``1h``, ``5m`` → ``5min``, ``1d`` → ``1D`` (pandas offset aliases)."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) != int(float(m.group(1))) or int(float(m.group(1))) < 1:
        raise ConfigError(f"not a bucket size: {text!r} (use e.g. 1m, 5m, 1h, 1d)")
    unit = m.group(2).lower()
    if unit in ("s", "sec"):
        raise ConfigError("the smallest bucket is 1m (series are stored per minute)")
    count = int(float(m.group(1)))
    if unit == "w":
        return f"{7 * count}D"  # fixed-width weeks, aligned like days
    return f"{count}{_PANDAS[unit]}"


def parse_instant(text: str, now: datetime | None = None) -> datetime:
    """``24h`` means 24 hours before now; otherwise an ISO-8601 instant (naive = UTC)."""
    now = now or datetime.now(UTC)
    if _DURATION.match(text):
        try:
            return now - parse_duration(text)
        except OverflowError as exc:
            raise ConfigError(f"{text!r} reaches before year 1") from exc
    if text.strip().lower() == "now":
        return now
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(f"not a time: {text!r} (use 24h, 7d or an ISO-8601 time)") from exc
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
