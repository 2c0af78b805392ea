"""An in-memory :class:`~alerts.store.AlertStore`: the alert rules without a database.

It keeps series buckets, alerts, silences, the lease and the outbox in plain lists and dicts
behind one lock. A unit of work takes the lock for its whole block and works on a copy of the
state, which replaces the state only when the block ends without an exception — so a failed
transaction leaves nothing behind, exactly as a rolled-back SQL one, and two threads never see
each other's half-done work. Tests feed it series with :meth:`MemoryAlertStore.add_series`.

It is a faithful fake, not a toy: the lifecycle tests run against it and against SQLite and
PostgreSQL with the same assertions (``tests/alerts/test_lifecycle.py``), so where it disagrees
with the SQL store a test says so.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from alerts.store import (
    SERIES_COLUMNS,
    AlertConflict,
    AlertStore,
    AlertUnit,
    Claimed,
    Count,
    Period,
)

ALERT_COLUMNS = (
    "id",
    "fingerprint",
    "rule",
    "series_key",
    "status",
    "started_at",
    "last_fired_at",
    "resolved_at",
    "normal_streak",
    "acked_at",
    "acked_by",
    "last_notified_at",
    "evidence",
    "created_at",
    "updated_at",
)
NOTIFICATION_COLUMNS = (
    "id",
    "alert_id",
    "channel",
    "event",
    "idempotency_key",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "delivered_at",
)
SILENCE_COLUMNS = ("id", "matchers", "comment", "created_by", "starts_at", "ends_at", "created_at")
_STORY = {"n": "s_n", "n_neg": "s_neg", "n_neu": "s_neu", "n_pos": "s_pos"}


@dataclass
class _State:
    # key -> bucket start -> counts; written only by add_series, outside units of work
    series: dict[str, dict[datetime, dict[str, Any]]] = field(default_factory=dict)
    alerts: dict[int, dict[str, Any]] = field(default_factory=dict)
    silences: dict[int, dict[str, Any]] = field(default_factory=dict)
    leases: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)

    def fork(self) -> _State:
        """A copy for one unit of work (the series are shared: units only read them)."""
        return _State(
            self.series,
            copy.deepcopy(self.alerts),
            copy.deepcopy(self.silences),
            copy.deepcopy(self.leases),
            copy.deepcopy(self.notifications),
            dict(self.next_id),
        )

    def new_id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]


def _units(row: Mapping[str, Any], count: Count) -> dict[str, Any]:
    """A series row as the detector counts it (story counts renamed when counting stories)."""
    if count == "stories":
        return {c: row.get(_STORY.get(c, c), 0) for c in SERIES_COLUMNS}
    return {c: row.get(c, 0) for c in SERIES_COLUMNS}


class MemoryAlertUnit(AlertUnit):
    def __init__(self, state: _State) -> None:
        self.s = state

    # -- detector inputs ---------------------------------------------------------------------
    def candidate_keys(
        self, start: datetime, end: datetime, min_volume: int, count: Count, rule: str
    ) -> list[str]:
        busy = {
            key
            for key, buckets in self.s.series.items()
            if sum(int(_units(r, count)["n"]) for t, r in buckets.items() if start <= t < end)
            >= min_volume
        }
        open_ = {
            a["series_key"]
            for a in self.s.alerts.values()
            if a["status"] == "firing" and a["rule"] == rule
        }
        return sorted(busy | open_)

    def frames(
        self, keys: Sequence[str], since: datetime, until: datetime, count: Count
    ) -> dict[str, pd.DataFrame]:
        out: dict[str, pd.DataFrame] = {}
        for key in keys:
            buckets = self.s.series.get(key, {})
            items = [
                {"bucket_start": t, **_units(buckets[t], count)}
                for t in sorted(buckets)
                if since <= t < until
            ]
            df = pd.DataFrame(items, columns=["bucket_start", *SERIES_COLUMNS])
            df["bucket_start"] = pd.to_datetime(df["bucket_start"], utc=True)
            out[key] = df.set_index("bucket_start")[SERIES_COLUMNS]
        return out

    def history_starts(self, keys: Sequence[str]) -> dict[str, datetime]:
        return {k: min(self.s.series[k]) for k in keys if self.s.series.get(k)}

    def alert_periods(self, keys: Sequence[str], rule: str) -> dict[str, list[Period]]:
        out: dict[str, list[Period]] = {}
        for a in self.s.alerts.values():
            if a["series_key"] in keys and a["rule"] == rule:
                out.setdefault(a["series_key"], []).append((a["started_at"], a["resolved_at"]))
        return out

    # -- alerts ------------------------------------------------------------------------------
    def firing_alert(self, fingerprint: str) -> dict[str, Any] | None:
        for a in self.s.alerts.values():
            if a["fingerprint"] == fingerprint and a["status"] == "firing":
                return dict(a)
        return None

    def insert_alert(self, values: Mapping[str, Any]) -> int:
        if values.get("status") == "firing" and self.firing_alert(values["fingerprint"]):
            raise AlertConflict(f"alert {values['fingerprint']} is already open")
        row: dict[str, Any] = dict.fromkeys(ALERT_COLUMNS)
        row["normal_streak"] = 0
        row.update(values)
        row["id"] = self.s.new_id("alerts")
        self.s.alerts[row["id"]] = row
        return int(row["id"])

    def update_alert(self, alert_id: int, values: Mapping[str, Any]) -> None:
        if alert_id in self.s.alerts:
            self.s.alerts[alert_id].update(values)

    def ack_alert(self, alert_id: int, by: str | None, now: datetime) -> bool | None:
        a = self.s.alerts.get(alert_id)
        if a is None:
            return None
        if a["acked_at"] is not None:
            return False
        a.update(acked_at=now, acked_by=by, updated_at=now)
        return True

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        a = self.s.alerts.get(alert_id)
        return None if a is None else dict(a)

    def list_alerts(
        self, status: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        rows = [
            dict(a)
            for a in self.s.alerts.values()
            if (since is None or a["started_at"] >= since or a["status"] == "firing")
            and (status in (None, "", "all") or a["status"] == status)
        ]
        return sorted(rows, key=lambda a: (a["started_at"], a["id"]), reverse=True)

    # -- silences ----------------------------------------------------------------------------
    def add_silence(
        self,
        matchers: Mapping[str, str],
        starts_at: datetime,
        ends_at: datetime,
        comment: str | None,
        created_by: str | None,
    ) -> int:
        sid = self.s.new_id("silences")
        self.s.silences[sid] = {
            "id": sid,
            "matchers": dict(matchers),
            "comment": comment,
            "created_by": created_by,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "created_at": starts_at,
        }
        return sid

    def expire_silence(self, silence_id: int, now: datetime) -> bool:
        s = self.s.silences.get(silence_id)
        if s is None or s["ends_at"] <= now:
            return False
        s["ends_at"] = now
        return True

    def active_silences(self, now: datetime) -> list[dict[str, Any]]:
        return [
            dict(s)
            for _, s in sorted(self.s.silences.items())
            if s["starts_at"] <= now < s["ends_at"]
        ]

    # -- the lease ---------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        row = self.s.leases.get(name)
        if row is None:
            self.s.leases[name] = {
                "name": name,
                "holder": holder,
                "expires_at": expires_at,
                "acquired_at": now,
            }
            return True
        if row["holder"] != holder and not row["expires_at"] < now:
            return False
        acquired = row["acquired_at"] if row["holder"] == holder else now
        row.update(holder=holder, expires_at=expires_at, acquired_at=acquired)
        return True

    def release_lease(self, name: str, holder: str) -> None:
        if self.s.leases.get(name, {}).get("holder") == holder:
            del self.s.leases[name]

    def lease(self, name: str) -> tuple[str, datetime] | None:
        row = self.s.leases.get(name)
        return None if row is None else (row["holder"], row["expires_at"])

    # -- the outbox --------------------------------------------------------------------------
    def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        known = {n["idempotency_key"] for n in self.s.notifications.values()}
        for r in rows:
            if r["idempotency_key"] in known:
                continue
            row: dict[str, Any] = dict.fromkeys(NOTIFICATION_COLUMNS)
            row.update(r)
            row["id"] = self.s.new_id("notifications")
            self.s.notifications[row["id"]] = row
            known.add(r["idempotency_key"])

    def mark_unconfigured(self, configured: Sequence[str], why: str) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for n in self._pending():
            if n["channel"] in configured:
                continue
            text = why.format(channel=n["channel"])
            count, marked = out.get(n["channel"], (0, 0))
            if n["last_error"] != text:
                n["last_error"] = text
                marked += 1
            out[n["channel"]] = (count + 1, marked)
        return out

    def _pending(self) -> Iterable[dict[str, Any]]:
        return (n for n in self.s.notifications.values() if n["status"] == "pending")

    def claim(
        self, channels: Sequence[str], limit: int, now: datetime, claim_until: datetime
    ) -> list[Claimed]:
        due = sorted(
            (
                n
                for n in self._pending()
                if n["next_attempt_at"] <= now and n["channel"] in channels
            ),
            key=lambda n: (n["next_attempt_at"], n["id"]),
        )[:limit]
        out = []
        for n in due:
            n["attempts"] += 1
            n["next_attempt_at"] = claim_until
            out.append(
                Claimed(
                    id=n["id"],
                    alert_id=n["alert_id"],
                    channel=n["channel"],
                    event=n["event"],
                    idempotency_key=n["idempotency_key"],
                    payload=copy.deepcopy(n["payload"]),
                    attempts=n["attempts"],
                    created_at=n["created_at"],
                )
            )
        return sorted(out, key=lambda c: c.id)

    def finish(self, claimed: Claimed, values: Mapping[str, Any], *, any_claim: bool) -> None:
        n = self.s.notifications.get(claimed.id)
        if n is None or n["status"] != "pending":
            return
        if any_claim or n["attempts"] == claimed.attempts:
            n.update(values)

    def release(self, claimed: Claimed, now: datetime, *, uncount: bool) -> None:
        n = self.s.notifications.get(claimed.id)
        if n is None or n["status"] != "pending" or n["attempts"] != claimed.attempts:
            return
        n["next_attempt_at"] = now
        if uncount:
            n["attempts"] -= 1

    def requeue_dead(
        self,
        now: datetime,
        ids: Sequence[int] | None = None,
        alert_id: int | None = None,
        channel: str | None = None,
    ) -> int:
        done = 0
        for n in self.s.notifications.values():
            if (
                n["status"] == "dead"
                and (ids is None or n["id"] in ids)
                and (alert_id is None or n["alert_id"] == alert_id)
                and (channel is None or n["channel"] == channel)
            ):
                n.update(status="pending", attempts=0, next_attempt_at=now)
                done += 1
        return done

    def purge_delivered(self, before: datetime) -> int:
        old = [
            i
            for i, n in self.s.notifications.items()
            if n["status"] == "delivered" and n["delivered_at"] < before
        ]
        for i in old:
            del self.s.notifications[i]
        return len(old)

    def outbox_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.s.notifications.values():
            out[n["status"]] = out.get(n["status"], 0) + 1
        return out

    def notifications(self, alert_id: int | None = None) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(n)
            for _, n in sorted(self.s.notifications.items())
            if alert_id is None or n["alert_id"] == alert_id
        ]


class MemoryAlertStore(AlertStore):
    """See the module docstring."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[AlertUnit]:
        with self._lock:
            work = self._state.fork()
            yield MemoryAlertUnit(work)
            self._state = work  # only reached when the block did not raise

    def add_series(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add 1-minute bucket counts (``sentiment_series`` rows: ``series_key``,
        ``bucket_start``, ``n``, ``n_neg``, ``n_neu``, ``n_pos``, ``score_sum`` and the story
        counts ``s_n``…); rows for a bucket already present add up, like the writer's upsert."""
        with self._lock:
            for r in rows:
                buckets = self._state.series.setdefault(r["series_key"], {})
                have = buckets.setdefault(r["bucket_start"], {})
                for c, v in r.items():
                    if c not in ("series_key", "bucket_start"):
                        have[c] = have.get(c, 0) + v
