"""One active detector across daemons: a named lease row with an expiry.

Every daemon runs the scheduler; each job first tries to take or renew the lease and does
nothing if another holder's lease is still valid. Taking it is one atomic store operation
(:meth:`alerts.store.AlertUnit.acquire_lease`; in SQL one upsert that inserts the row, or
overwrites it only if we already hold it or it has expired), so two daemons racing for an
expired lease can't both win, on PostgreSQL or SQLite. A holder that dies simply stops renewing
and another takes over after ``ttl``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from alerts.metrics import LEASE_HELD
from alerts.store import AlertStore
from pipeline.errors import AlertError, StoreError

log = logging.getLogger(__name__)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(
        self, store: AlertStore, name: str, ttl_s: float, holder: str | None = None
    ) -> None:
        self.store = store
        self.name = name
        self.ttl = timedelta(seconds=ttl_s)
        self.holder = holder or default_holder()
        self._held = False

    def acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True if we hold it until ``now + ttl``."""
        now = now or datetime.now(UTC)
        try:
            with self.store.transaction() as tx:
                won = tx.acquire_lease(self.name, self.holder, now, now + self.ttl)
        except StoreError as exc:
            raise AlertError(f"lease {self.name!r}: {exc}") from exc
        if won != self._held:
            log.info("%s lease %r as %s", "took" if won else "lost", self.name, self.holder)
        self._held = won
        LEASE_HELD.set(1 if won else 0)
        return won

    def release(self) -> None:
        """Give the lease up now (clean shutdown) so another daemon needn't wait for expiry."""
        try:
            with self.store.transaction() as tx:
                tx.release_lease(self.name, self.holder)
        except StoreError as exc:
            log.warning("could not release lease %r: %s", self.name, exc)
        self._held = False
        LEASE_HELD.set(0)

    def current_holder(self, now: datetime | None = None) -> str | None:
        now = now or datetime.now(UTC)
        with self.store.transaction() as tx:
            row = tx.lease(self.name)
        if row is None or row[1] < now:
            return None
        return row[0]
