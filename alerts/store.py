"""What alerts need of a database: a small interface, a transaction, and nothing else.

The lifecycle, silences, the lease and the outbox never see SQL. They ask an :class:`AlertStore`
for a unit of work (``with store.transaction() as tx:``) and call the operations below on it;
everything done through one ``tx`` commits together or not at all — that is how an alert and
its outbox rows appear together or not at all. ``pipeline/store/alerts_sql.py`` implements it
with SQLAlchemy on SQLite and PostgreSQL; :mod:`alerts.memory` keeps it in dictionaries, so the
lifecycle's rules can be tested without a database, and the same tests run on both (the model
is apscheduler's ``abc.DataStore`` with its ``MemoryDataStore``).

Rows cross the interface as plain dicts keyed by column name (an alert row has ``id``,
``fingerprint``, ``rule``, ``series_key``, ``status``, ``started_at``, ``last_fired_at``,
``resolved_at``, ``normal_streak``, ``acked_at``, ``acked_by``, ``last_notified_at``,
``evidence``, ``created_at``, ``updated_at``); times are timezone-aware UTC. Driver failures
surface as :class:`~pipeline.errors.StoreError` (an outage, worth a retry) or
:class:`~pipeline.errors.StoreRejected` (the data was refused); opening a second alert for an
open fingerprint is :class:`AlertConflict`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from pipeline.errors import AlertError

# What the detector counts per bucket: distinct stories or every article.
Count = Literal["stories", "articles"]
# The columns of a detector frame, indexed by bucket start (UTC, 1 minute).
SERIES_COLUMNS = ["n", "n_neg", "n_neu", "n_pos", "score_sum"]
# A past (or ongoing, end=None) alert period.
Period = tuple[datetime, datetime | None]
OutboxStatus = Literal["pending", "delivered", "dead"]


class AlertConflict(AlertError):
    """An alert for this fingerprint is already open (another detector opened it first)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification claimed for delivery: ``attempts`` counts this attempt."""

    id: int
    alert_id: int
    channel: str
    event: str
    idempotency_key: str
    payload: Mapping[str, Any]
    attempts: int
    created_at: datetime


class AlertUnit(ABC):
    """One transaction's worth of operations; see the module docstring."""

    # -- what the detector reads -------------------------------------------------------------
    @abstractmethod
    def candidate_keys(
        self, start: datetime, end: datetime, min_volume: int, count: Count, rule: str
    ) -> list[str]:
        """Keys with at least ``min_volume`` units in ``[start, end)`` plus keys with an open
        alert of ``rule``, sorted."""

    @abstractmethod
    def frames(
        self, keys: Sequence[str], since: datetime, until: datetime, count: Count
    ) -> dict[str, pd.DataFrame]:
        """Each key's 1-minute buckets in ``[since, until)``, columns :data:`SERIES_COLUMNS`
        (story counts as ``n``… when ``count`` is stories), indexed by UTC bucket start."""

    @abstractmethod
    def history_starts(self, keys: Sequence[str]) -> dict[str, datetime]:
        """Each key's first stored bucket (keys without any are left out)."""

    @abstractmethod
    def alert_periods(self, keys: Sequence[str], rule: str) -> dict[str, list[Period]]:
        """Each key's alert periods of ``rule``: (started_at, resolved_at or None)."""

    # -- alerts ------------------------------------------------------------------------------
    @abstractmethod
    def firing_alert(self, fingerprint: str) -> dict[str, Any] | None:
        """The open (firing) alert with this fingerprint, if any."""

    @abstractmethod
    def insert_alert(self, values: Mapping[str, Any]) -> int:
        """A new alert row; its id. :class:`AlertConflict` if its fingerprint is open."""

    @abstractmethod
    def update_alert(self, alert_id: int, values: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def ack_alert(self, alert_id: int, by: str | None, now: datetime) -> bool | None:
        """Acknowledge: True if done, False if it already was, None if there is no such alert."""

    @abstractmethod
    def get_alert(self, alert_id: int) -> dict[str, Any] | None: ...

    @abstractmethod
    def list_alerts(
        self, status: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Alerts newest first; ``since`` keeps those started since, and every firing one."""

    # -- silences ----------------------------------------------------------------------------
    @abstractmethod
    def add_silence(
        self,
        matchers: Mapping[str, str],
        starts_at: datetime,
        ends_at: datetime,
        comment: str | None,
        created_by: str | None,
    ) -> int: ...

    @abstractmethod
    def expire_silence(self, silence_id: int, now: datetime) -> bool:
        """End an active silence now; False if it is not active (or does not exist)."""

    @abstractmethod
    def active_silences(self, now: datetime) -> list[dict[str, Any]]:
        """Silences in force at ``now`` (``id``, ``matchers``, ``comment``, ``created_by``,
        ``starts_at``, ``ends_at``, ``created_at``), by id."""

    # -- the lease ---------------------------------------------------------------------------
    @abstractmethod
    def acquire_lease(self, name: str, holder: str, now: datetime, expires_at: datetime) -> bool:
        """Take the lease if it is free, expired, or already ``holder``'s (then renew it,
        keeping its acquisition time), atomically; True if ``holder`` holds it now."""

    @abstractmethod
    def release_lease(self, name: str, holder: str) -> None: ...

    @abstractmethod
    def lease(self, name: str) -> tuple[str, datetime] | None:
        """(holder, expires_at) of the lease row, expired or not; None if there is none."""

    # -- the outbox --------------------------------------------------------------------------
    @abstractmethod
    def enqueue(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert notification rows; a row whose ``idempotency_key`` exists is skipped."""

    @abstractmethod
    def mark_unconfigured(self, configured: Sequence[str], why: str) -> dict[str, tuple[int, int]]:
        """For pending rows on channels not in ``configured``: set ``last_error`` to ``why``
        formatted with ``channel=``; returns channel → (pending rows, rows newly marked)."""

    @abstractmethod
    def claim(
        self, channels: Sequence[str], limit: int, now: datetime, claim_until: datetime
    ) -> list[Claimed]:
        """Claim up to ``limit`` due pending rows of ``channels`` (oldest due first): count the
        attempt and push ``next_attempt_at`` to ``claim_until``, atomically across processes."""

    @abstractmethod
    def finish(self, claimed: Claimed, values: Mapping[str, Any], *, any_claim: bool) -> None:
        """Write an outcome if the row is still pending (and, unless ``any_claim``, still at
        this claim's attempt count)."""

    @abstractmethod
    def release(self, claimed: Claimed, now: datetime, *, uncount: bool) -> None:
        """Make a claimed row due at ``now`` again (optionally giving the attempt back)."""

    @abstractmethod
    def requeue_dead(
        self,
        now: datetime,
        ids: Sequence[int] | None = None,
        alert_id: int | None = None,
        channel: str | None = None,
    ) -> int: ...

    @abstractmethod
    def purge_delivered(self, before: datetime) -> int: ...

    @abstractmethod
    def outbox_counts(self) -> dict[str, int]:
        """Rows per status (only statuses that have rows)."""

    @abstractmethod
    def notifications(self, alert_id: int | None = None) -> list[dict[str, Any]]:
        """Outbox rows (of one alert), by id."""


class AlertStore(ABC):
    """Hands out units of work; see the module docstring."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[AlertUnit]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
