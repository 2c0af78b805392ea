"""One active detector across daemons: a named lease row with an expiry.

Every daemon runs the scheduler; each job first tries to take or renew the lease and does
nothing if another holder's lease is still valid. Taking it is one atomic upsert — insert the
row, or overwrite it only if we already hold it or it has expired — so two daemons racing for an
expired lease can't both win, on PostgreSQL or SQLite. A holder that dies simply stops renewing
and another takes over after ``ttl``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from alerts.metrics import LEASE_HELD
from pipeline.errors import AlertError
from pipeline.store.schema import leases
from pipeline.store.writer import dialect_insert

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(self, engine: Engine, name: str, ttl_s: float, holder: str | None = None) -> None:
        self.engine = engine
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or default_holder()
        self._held = False

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True if we hold it until ``now + ttl``."""
        now = now or datetime.now(UTC)
        stmt = dialect_insert(self.engine, leases).values(
            name=self.name, holder=self.holder, expires_at=now + self.ttl, acquired_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={
                "holder": stmt.excluded.holder,
                "expires_at": stmt.excluded.expires_at,
                # keep the original acquisition time on renewal
                "acquired_at": _case_renew(stmt),
            },
            where=(leases.c.holder == stmt.excluded.holder) | (leases.c.expires_at < now),
        ).returning(leases.c.holder)
        try:
            with self.engine.begin() as conn:
                won = conn.execute(stmt).first() is not None
        except SQLAlchemyError as exc:
            raise AlertError(f"lease {self.name!r}: {exc}") from exc
        if won != self._held:
            log.info("%s lease %r as %s", "took" if won else "lost", self.name, self.holder)
        self._held = won
        LEASE_HELD.set(1 if won else 0)
        return won

    def release(self) -> None:
        """Give the lease up now (clean shutdown) so another daemon needn't wait for expiry."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(leases).where(leases.c.name == self.name, leases.c.holder == self.holder)
                )
        except SQLAlchemyError as exc:
            log.warning("could not release lease %r: %s", self.name, exc)
        self._held = False
        LEASE_HELD.set(0)

    def current_holder(self, now: datetime | None = None) -> str | None:
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_at).where(leases.c.name == self.name)
            ).first()
        if row is None or row.expires_at < now:
            return None
        return str(row.holder)


def _case_renew(stmt: object) -> object:
    from sqlalchemy import case

    excluded = stmt.excluded  # type: ignore[attr-defined]
    return case(
        (leases.c.holder == excluded.holder, leases.c.acquired_at), else_=excluded.acquired_at
    )
