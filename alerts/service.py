"""The alert scheduler: APScheduler 3.x jobs for detection, delivery and housekeeping.

Every daemon may run this service; a database lease makes exactly one of them active. Each job
first takes or renews the lease and returns at once without it, so a second daemon is a hot
standby that takes over within one lease lifetime when the active one dies. Jobs coalesce
missed runs and never overlap (``max_instances=1``): a slow detection tick delays the next one
instead of stacking up behind it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.config import AlertSettings
from alerts.lease import Lease
from alerts.lifecycle import ArticleLookup, Lifecycle
from alerts.notify.base import Notifier
from alerts.notify.outbox import deliver_due
from alerts.notify.settings import NotifySettings
from alerts.store import AlertStore

log = logging.getLogger(__name__)

LEASE_NAME = "alerts"


@dataclass(frozen=True)
class ExtraJob:
    """Housekeeping run under the same lease (retention, for instance)."""

    name: str
    func: Callable[[], Any]
    interval_s: float


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        settings: AlertSettings,
        notify: NotifySettings,
        notifiers: Mapping[str, Notifier],
        *,
        article_lookup: ArticleLookup | None = None,
        key_terms: Callable[[str], Iterable[str]] | None = None,
        extra_jobs: tuple[ExtraJob, ...] = (),
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.notify = notify
        self.notifiers = dict(notifiers)
        self.lease = Lease(store, LEASE_NAME, settings.lease_ttl_s, holder)
        self.lifecycle = Lifecycle(
            store,
            settings,
            channels_for=notify.channels_for,
            article_lookup=article_lookup,
            key_terms=key_terms,
        )
        self.extra_jobs = extra_jobs
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()

    # -- jobs ---------------------------------------------------------------------------------
    def _leader(self) -> bool:
        try:
            return self.lease.acquire()
        except Exception as exc:
            log.warning("lease check failed, skipping this run: %s", exc)
            return False

    def detect_job(self, now: datetime | None = None) -> None:
        if not self._leader():
            return
        try:
            report = self.lifecycle.tick(now)
        except Exception:
            log.exception("detection tick failed; the next tick will try again")
            return
        if report.fired or report.resolved or report.repeated:
            log.info(
                "alerts tick: fired=%s repeated=%s resolved=%s silenced=%s",
                report.fired,
                report.repeated,
                report.resolved,
                report.silenced,
            )

    def deliver_job(self) -> None:
        if not self._leader():
            return
        try:
            deliver_due(self.store, self.notifiers, self.notify)
        except Exception:
            log.exception("notification delivery failed; the next run will try again")

    def _extra(self, job: ExtraJob) -> Callable[[], None]:
        def run() -> None:
            if not self._leader():
                return
            try:
                job.func()
            except Exception:
                log.exception("job %s failed", job.name)

        return run

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                return
            sched = BackgroundScheduler(
                timezone=UTC,
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            )
            now = datetime.now(UTC)
            sched.add_job(
                self.detect_job,
                "interval",
                seconds=self.settings.interval_s,
                id="detect",
                next_run_time=now,
            )
            sched.add_job(
                self.deliver_job,
                "interval",
                seconds=self.settings.deliver_interval_s,
                id="deliver",
                next_run_time=now,
            )
            for job in self.extra_jobs:
                sched.add_job(
                    self._extra(job),
                    "interval",
                    seconds=job.interval_s,
                    id=job.name,
                    next_run_time=now,
                )
            sched.start()
            self._scheduler = sched
            log.info(
                "alert scheduler started: detect every %ss, deliver every %ss, lease %r as %s",
                self.settings.interval_s,
                self.settings.deliver_interval_s,
                LEASE_NAME,
                self.lease.holder,
            )

    def stop(self) -> None:
        with self._lock:
            sched, self._scheduler = self._scheduler, None
        if sched is None:
            return
        sched.shutdown(wait=True)  # let a running tick finish its transaction
        self.lease.release()
        log.info("alert scheduler stopped")
