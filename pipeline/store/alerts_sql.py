"""The alerts' store interface (:mod:`alerts.store`) on SQLAlchemy: SQLite and PostgreSQL.

Every statement the alert lifecycle, silences, the lease and the outbox run lives here, so
``alerts/`` knows nothing of tables or dialects. A unit of work is one ``engine.begin()``
transaction; driver errors leave it as :class:`~pipeline.errors.StoreError` (outage) or
:class:`~pipeline.errors.StoreRejected` (refused data), except the partial unique index on open
fingerprints, which is :class:`alerts.store.AlertConflict`.

Two statements carry the concurrency story and are worth reading: :meth:`SqlAlertUnit.acquire_lease`
(one atomic upsert that only overwrites a row we hold or one that expired, so two daemons
racing for an expired lease can't both win) and :meth:`SqlAlertUnit.claim` (``UPDATE … WHERE id
IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`` on PostgreSQL, the same UPDATE without
the lock clause on SQLite, whose single writer makes it atomic).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from alerts.store import (
    SERIES_COLUMNS,
    AlertConflict,
    AlertStore,
    AlertUnit,
    Claimed,
    Count,
    Period,
)
from pipeline.store.engine import store_error
from pipeline.store.schema import alerts, leases, notifications, sentiment_series, silences
from pipeline.store.writer import dialect_insert

s_ = sentiment_series.c
n_ = notifications.c


def volume_column(count: Count | str) -> Any:
    """The column that counts the detector's units (stories or articles) per bucket."""
    return s_.s_n if count == "stories" else s_.n


def counted_columns(count: Count | str) -> list[Any]:
    """The series columns the detector reads, named as it expects (``n``, ``n_neg``, …): the
    story counts (``s_*``) or the article counts. Every loader of detector frames uses this."""
    if count == "stories":
        return [
            s_.series_key,
            s_.bucket_start,
            s_.s_n.label("n"),
            s_.s_neg.label("n_neg"),
            s_.s_neu.label("n_neu"),
            s_.s_pos.label("n_pos"),
            s_.score_sum,
        ]
    return [s_.series_key, s_.bucket_start, s_.n, s_.n_neg, s_.n_neu, s_.n_pos, s_.score_sum]


def load_frames(
    conn: Connection, keys: Sequence[str], since: datetime, until: datetime, count: Count | str
) -> dict[str, pd.DataFrame]:
    """Each key's 1-minute frame in ``[since, until)`` as the detector reads it: the one loader
    of the live tick and the backtest."""
    frames: dict[str, pd.DataFrame] = {}
    for i in range(0, len(keys), 500):
        chunk = list(keys[i : i + 500])
        rows = conn.execute(
            select(*counted_columns(count))
            .where(
                s_.series_key.in_(chunk),
                s_.bucket_start >= since,
                s_.bucket_start < until,
            )
            .order_by(s_.series_key, s_.bucket_start)
        ).all()
        # plain tuples: pandas probing Row objects attribute by attribute costs 5x the build
        df = pd.DataFrame(
            [tuple(r) for r in rows], columns=["series_key", "bucket_start", *SERIES_COLUMNS]
        )
        df["bucket_start"] = pd.to_datetime(df["bucket_start"], utc=True)
        for key in chunk:
            part = df[df["series_key"] == key]
            frames[key] = part.set_index("bucket_start")[SERIES_COLUMNS]
    return frames


def history_starts(conn: Connection, keys: Sequence[str]) -> dict[str, datetime]:
    """Each key's first stored bucket: where its history (and its baseline) begins."""
    rows = conn.execute(
        select(s_.series_key, func.min(s_.bucket_start))
        .where(s_.series_key.in_(list(keys)))
        .group_by(s_.series_key)
    ).all()
    return {k: t for k, t in rows}


class SqlAlertUnit(AlertUnit):
    """The operations on one open transaction (``conn``)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- detector inputs ---------------------------------------------------------------------
    def candidate_keys(
        self, start: datetime, end: datetime, min_volume: int, count: Count, rule: str
    ) -> list[str]:
        busy = self.conn.execute(
            select(s_.series_key)
            .where(s_.bucket_start >= start, s_.bucket_start < end)
            .group_by(s_.series_key)
            .having(func.sum(volume_column(count)) >= min_volume)
        ).scalars()
        open_ = self.conn.execute(
            select(alerts.c.series_key).where(alerts.c.status == "firing", alerts.c.rule == rule)
        ).scalars()
        return sorted(set(busy) | set(open_))

    def frames(
        self, keys: Sequence[str], since: datetime, until: datetime, count: Count
    ) -> dict[str, pd.DataFrame]:
        return load_frames(self.conn, keys, since, until, count)

    def history_starts(self, keys: Sequence[str]) -> dict[str, datetime]:
        return history_starts(self.conn, keys)

    def alert_periods(self, keys: Sequence[str], rule: str) -> dict[str, list[Period]]:
        out: dict[str, list[Period]] = {}
        rows = self.conn.execute(
            select(alerts.c.series_key, alerts.c.started_at, alerts.c.resolved_at).where(
                alerts.c.series_key.in_(list(keys)), alerts.c.rule == rule
            )
        ).all()
        for key, start, end in rows:
            out.setdefault(key, []).append((start, end))
        return out

    # -- alerts ------------------------------------------------------------------------------
    def firing_alert(self, fingerprint: str) -> dict[str, Any] | None:
        row = (
            self.conn.execute(
                select(alerts).where(
                    alerts.c.fingerprint == fingerprint, alerts.c.status == "firing"
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    def insert_alert(self, values: Mapping[str, Any]) -> int:
        try:
            pk = self.conn.execute(alerts.insert().values(**values)).inserted_primary_key
        except IntegrityError as exc:
            # the partial unique index on open fingerprints; the transaction is lost with it
            raise AlertConflict(f"alert {values.get('fingerprint')} is already open") from exc
        assert pk is not None
        return int(pk[0])

    def update_alert(self, alert_id: int, values: Mapping[str, Any]) -> None:
        self.conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))

    def ack_alert(self, alert_id: int, by: str | None, now: datetime) -> bool | None:
        res = self.conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.acked_at.is_(None))
            .values(acked_at=now, acked_by=by, updated_at=now)
        )
        if res.rowcount:
            return True
        exists = self.conn.execute(select(alerts.c.id).where(alerts.c.id == alert_id)).first()
        return None if exists is None else False

    def get_alert(self, alert_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().first()
        return None if row is None else dict(row)

    def list_alerts(
        self, status: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        stmt = select(alerts)
        if since is not None:
            stmt = stmt.where((alerts.c.started_at >= since) | (alerts.c.status == "firing"))
        if status not in (None, "", "all"):
            stmt = stmt.where(alerts.c.status == status)
        stmt = stmt.order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
        return [dict(r) for r in self.conn.execute(stmt).mappings()]

    # -- silences ----------------------------------------------------------------------------
    def add_silence(
        self,
        matchers: Mapping[str, str],
        starts_at: datetime,
        ends_at: datetime,
        comment: str | None,
        created_by: str | None,
    ) -> int:
        pk = self.conn.execute(
            silences.insert().values(
                matchers=dict(matchers),
                comment=comment,
                created_by=created_by,
                starts_at=starts_at,
                ends_at=ends_at,
                created_at=starts_at,
            )
        ).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    def expire_silence(self, silence_id: int, now: datetime) -> bool:
        res = self.conn.execute(
            update(silences)
            .where(silences.c.id == silence_id, silences.c.ends_at > now)
            .values(ends_at=now)
        )
        return bool(res.rowcount)

    def active_silences(self, now: datetime) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(silences)
            .where(silences.c.starts_at <= now, silences.c.ends_at > now)
            .order_by(silences.c.id)
        ).mappings()
        return [dict(r) for r in rows]

    # -- the lease ---------------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        stmt = dialect_insert(self.conn.dialect.name, leases).values(
            name=name, holder=holder, expires_at=expires_at, acquired_at=now
        )
        ex = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={
                "holder": ex.holder,
                "expires_at": ex.expires_at,
                # keep the original acquisition time on renewal
                "acquired_at": case(
                    (leases.c.holder == ex.holder, leases.c.acquired_at), else_=ex.acquired_at
                ),
            },
            where=(leases.c.holder == ex.holder) | (leases.c.expires_at < now),
        ).returning(leases.c.holder)
        return self.conn.execute(stmt).first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        self.conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))

    def lease(self, name: str) -> tuple[str, datetime] | None:
        row = self.conn.execute(
            select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
        ).first()
        return None if row is None else (str(row.holder), row.expires_at)

    # -- the outbox --------------------------------------------------------------------------
    def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        stmt = dialect_insert(self.conn.dialect.name, notifications).on_conflict_do_nothing(
            index_elements=[n_.idempotency_key]
        )
        self.conn.execute(stmt, [dict(r) for r in rows])

    def mark_unconfigured(self, configured: Sequence[str], why: str) -> dict[str, tuple[int, int]]:
        lost = self.conn.execute(
            select(n_.channel, func.count())
            .where(n_.status == "pending", n_.channel.not_in(list(configured)))
            .group_by(n_.channel)
        ).all()
        out: dict[str, tuple[int, int]] = {}
        for channel, count in lost:
            text = why.format(channel=channel)
            marked = self.conn.execute(
                update(notifications)
                .where(n_.status == "pending", n_.channel == channel)
                .where((n_.last_error.is_(None)) | (n_.last_error != text))
                .values(last_error=text)
            ).rowcount
            out[str(channel)] = (int(count), int(marked))
        return out

    def claim(
        self, channels: Sequence[str], limit: int, now: datetime, claim_until: datetime
    ) -> list[Claimed]:
        due = (
            select(n_.id)
            .where(n_.status == "pending", n_.next_attempt_at <= now, n_.channel.in_(channels))
            .order_by(n_.next_attempt_at, n_.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(notifications)
            .where(
                n_.id.in_(due.scalar_subquery()), n_.status == "pending", n_.next_attempt_at <= now
            )
            .values(attempts=n_.attempts + 1, next_attempt_at=claim_until)
            .returning(
                n_.id,
                n_.alert_id,
                n_.channel,
                n_.event,
                n_.idempotency_key,
                n_.payload,
                n_.attempts,
                n_.created_at,
            )
        )
        rows = self.conn.execute(stmt).all()
        return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)

    def finish(self, claimed: Claimed, values: Mapping[str, Any], *, any_claim: bool) -> None:
        stmt = update(notifications).where(n_.id == claimed.id, n_.status == "pending")
        if not any_claim:
            stmt = stmt.where(n_.attempts == claimed.attempts)
        self.conn.execute(stmt.values(**values))

    def release(self, claimed: Claimed, now: datetime, *, uncount: bool) -> None:
        self.conn.execute(
            update(notifications)
            .where(n_.id == claimed.id, n_.status == "pending", n_.attempts == claimed.attempts)
            .values(next_attempt_at=now, attempts=n_.attempts - 1 if uncount else n_.attempts)
        )

    def requeue_dead(
        self,
        now: datetime,
        ids: Sequence[int] | None = None,
        alert_id: int | None = None,
        channel: str | None = None,
    ) -> int:
        stmt = update(notifications).where(n_.status == "dead")
        if ids is not None:
            stmt = stmt.where(n_.id.in_(list(ids)))
        if alert_id is not None:
            stmt = stmt.where(n_.alert_id == alert_id)
        if channel is not None:
            stmt = stmt.where(n_.channel == channel)
        res = self.conn.execute(stmt.values(status="pending", attempts=0, next_attempt_at=now))
        return int(res.rowcount)

    def purge_delivered(self, before: datetime) -> int:
        res = self.conn.execute(
            delete(notifications).where(n_.status == "delivered", n_.delivered_at < before)
        )
        return int(res.rowcount)

    def outbox_counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(n_.status, func.count()).group_by(n_.status)).all()
        return {str(status): int(count) for status, count in rows}

    def notifications(self, alert_id: int | None = None) -> list[dict[str, Any]]:
        stmt = select(notifications).order_by(n_.id)
        if alert_id is not None:
            stmt = stmt.where(n_.alert_id == alert_id)
        return [dict(r) for r in self.conn.execute(stmt).mappings()]


class SqlAlertStore(AlertStore):
    """:class:`alerts.store.AlertStore` on an engine (SQLite or PostgreSQL, schema at head)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[AlertUnit]:
        try:
            with self.engine.begin() as conn:
                yield SqlAlertUnit(conn)
        except AlertConflict:
            raise
        except SQLAlchemyError as exc:
            raise store_error(exc, "alert store") from exc
