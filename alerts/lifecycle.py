"""The alert lifecycle: detection results become alerts, and alerts become outbox rows.

One evaluation tick, per series key, in one transaction each:

* **firing** — a spike with no open alert for its fingerprint (``neg_spike:<key>``) opens one,
  with its evidence (the detector's numbers plus the top negative articles and the words that
  drove them), and queues a ``firing`` notification per channel unless a silence matches;
* **still firing** — an open alert is refreshed (``last_fired_at``, latest evidence); past the
  repeat interval, and if nobody acknowledged it, a ``repeat`` notification is queued; if its
  ``firing`` message was silenced and no silence matches any more, that message goes out now
  (silences are time-boxed: an episode that outlasts one is not kept from people for good);
* **resolved** — after K consecutive normal windows the alert resolves and a ``resolved``
  notification follows the firing one.

The outbox rows are written in the same transaction as the alert change, so a crash can't
leave an alert without its notification or a notification without its alert. Past alert
periods are handed back to the detector so an episode never becomes its own baseline.

The database is reached only through :class:`alerts.store.AlertStore` (its SQL implementation
lives in ``pipeline/store/alerts_sql.py``, an in-memory one in :mod:`alerts.memory`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.config import AlertSettings
from alerts.detect import Detection, Detector, closed_window, is_normal
from alerts.evidence import key_words, top_words
from alerts.metrics import ALERTS_FIRED, ALERTS_RESOLVED
from alerts.notify.message import alert_payload, jsonable
from alerts.notify.outbox import enqueue
from alerts.silences import silenced_by
from alerts.store import AlertConflict, AlertStore, AlertUnit
from pipeline.errors import AlertError

log = logging.getLogger(__name__)

RULE = "neg_spike"


# Evidence articles: (key, window start, window end) -> top negative articles, JSON-ready.
ArticleLookup = Callable[[str, datetime, datetime, int], list[dict[str, Any]]]
ChannelsFor = Callable[[Any], Sequence[str]]


def fingerprint(rule: str, key: str) -> str:
    return f"{rule}:{key}"


@dataclass
class TickReport:
    now: datetime
    keys_evaluated: int = 0
    fired: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    silenced: list[str] = field(default_factory=list)


class Lifecycle:
    """Runs detection ticks against the store and keeps the alerts table and outbox current."""

    def __init__(
        self,
        store: AlertStore,
        settings: AlertSettings,
        *,
        channels_for: ChannelsFor,
        article_lookup: ArticleLookup | None = None,
        detector: Detector | None = None,
        key_terms: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.detector = detector or Detector(settings.detector)
        self.channels_for = channels_for
        self.article_lookup = article_lookup
        self.key_terms = key_terms  # a key's entity names, aliases and tickers (watchlist)

    # -- one tick ---------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        report = TickReport(now=now)
        start, end = closed_window(now, self.settings.detector)
        count = self.settings.count
        # every window the detector uses, the confirmation window included, and its baseline
        since = now - self.detector.lookback.to_pytimedelta()
        with self.store.transaction() as tx:
            # keys that could fire (enough volume in the window) plus keys with an open alert
            keys = tx.candidate_keys(
                start.to_pydatetime(),
                end.to_pydatetime(),
                self.settings.detector.min_n,
                count,
                RULE,
            )
            if not keys:
                return report
            frames = tx.frames(keys, since, now, count)
            exclusions = tx.alert_periods(keys, RULE)
            history = tx.history_starts(keys)
        tested = sum(
            int(f.loc[(f.index >= start) & (f.index < end), "n"].sum())
            >= self.settings.detector.min_n
            for f in frames.values()
        )
        for key in keys:
            det = self.detector.evaluate(
                frames[key],
                now,
                key=key,
                exclude=exclusions.get(key, ()),
                n_tests=max(tested, 1),
                history_start=history.get(key),
            )
            self._apply(key, det, now, report)
            report.keys_evaluated += 1
        return report

    def _evidence(self, det: Detection) -> dict[str, Any]:
        ev: dict[str, Any] = {"rule": RULE, "series_key": det.key, **det.as_dict()}
        ev.pop("key", None)
        tops: list[dict[str, Any]] = []
        if self.article_lookup is not None:
            try:
                tops = self.article_lookup(
                    det.key,
                    det.window_start.to_pydatetime(),
                    det.window_end.to_pydatetime(),
                    self.settings.top_articles,
                )
            except Exception as exc:  # evidence is best effort; the alert itself is not
                log.warning("could not load evidence articles for %s: %s", det.key, exc)
        ev["top_articles"] = tops
        names = key_words(det.key)
        if self.key_terms is not None:
            try:
                names |= {t.lower() for t in self.key_terms(det.key)}
            except Exception as exc:  # evidence is best effort
                log.warning("could not load the names of %s: %s", det.key, exc)
        ev["top_words"] = top_words(tops, exclude=names)
        return dict(jsonable(ev))

    def _apply(self, key: str, det: Detection, now: datetime, report: TickReport) -> None:
        fp = fingerprint(RULE, key)
        try:
            with self.store.transaction() as tx:
                row = tx.firing_alert(fp)
                if det.is_spike:
                    if row is None:
                        self._open(tx, key, fp, det, now, report)
                    else:
                        self._refresh(tx, row, det, now, report)
                elif row is not None:
                    self._maybe_resolve(tx, row, det, now, report)
        except AlertConflict:
            # Another detector (one whose lease ran out during a slow tick) opened this episode
            # between our read and our insert, and queued its notifications. One alert per
            # episode holds; this tick goes on.
            log.warning("alert %s was just opened by another detector; keeping theirs", fp)

    def _notify(
        self, tx: AlertUnit, alert: dict[str, Any], event: str, now: datetime, seq: int | str
    ) -> bool:
        """Queue ``event`` for every channel that takes it, unless a silence matches."""
        silence = silenced_by(tx, alert["rule"], alert["series_key"], now)
        if silence is not None:
            log.info("alert %s %s silenced by silence %d", alert["id"], event, silence)
            return False
        channels = list(self.channels_for(event))
        if channels:
            enqueue(tx, alert["id"], event, alert_payload(alert), channels, now, seq=seq)
        return True

    def _open(
        self,
        tx: AlertUnit,
        key: str,
        fp: str,
        det: Detection,
        now: datetime,
        report: TickReport,
    ) -> None:
        evidence = self._evidence(det)
        values: dict[str, Any] = {
            "fingerprint": fp,
            "rule": RULE,
            "series_key": key,
            "status": "firing",
            "started_at": det.window_start.to_pydatetime(),
            "last_fired_at": now,
            "normal_streak": 0,
            "evidence": evidence,
            "created_at": now,
            "updated_at": now,
        }
        alert_id = tx.insert_alert(values)
        alert = {"id": alert_id, **values}
        ALERTS_FIRED.labels(rule=RULE).inc()
        log.warning(
            "ALERT firing %s: negative share %.1f%% vs baseline %.1f%% (lift %.2f, p=%.2g, n=%d)",
            key,
            100 * det.share,
            100 * det.baseline_share,
            det.lift,
            det.p_share,
            det.n,
        )
        if self._notify(tx, alert, "firing", now, seq=0):
            tx.update_alert(alert_id, {"last_notified_at": now})
            report.fired.append(key)
        else:
            report.silenced.append(key)

    def _refresh(
        self,
        tx: AlertUnit,
        row: dict[str, Any],
        det: Detection,
        now: datetime,
        report: TickReport,
    ) -> None:
        values: dict[str, Any] = {"last_fired_at": now, "normal_streak": 0, "updated_at": now}
        # keep the strongest evidence of the episode: it's what people want to see
        old_lift = (row["evidence"] or {}).get("lift") or 0.0
        if det.lift >= old_lift:
            values["evidence"] = self._evidence(det)
        repeat = timedelta(minutes=self.settings.repeat_interval_min)
        last = row["last_notified_at"]
        alert = {**row, **values}
        if row["acked_at"] is not None:
            pass  # somebody is on it: no repeats, and no late firing message either
        elif last is None:
            # the firing message was silenced; once the silence is over, it goes out now
            if self._notify(tx, alert, "firing", now, seq=0):
                values["last_notified_at"] = now
                report.fired.append(row["series_key"])
        elif now - last >= repeat and self._notify(
            tx, alert, "repeat", now, seq=now.strftime("%Y%m%dT%H%M")
        ):
            values["last_notified_at"] = now
            report.repeated.append(row["series_key"])
        tx.update_alert(row["id"], values)

    def _maybe_resolve(
        self,
        tx: AlertUnit,
        row: dict[str, Any],
        det: Detection,
        now: datetime,
        report: TickReport,
    ) -> None:
        if not is_normal(det, self.settings.detector):
            tx.update_alert(row["id"], {"normal_streak": 0, "updated_at": now})
            return
        streak = int(row["normal_streak"]) + 1
        if streak < self.settings.resolve_after_windows:
            tx.update_alert(row["id"], {"normal_streak": streak, "updated_at": now})
            return
        values = {
            "status": "resolved",
            "resolved_at": now,
            "normal_streak": streak,
            "updated_at": now,
        }
        tx.update_alert(row["id"], values)
        ALERTS_RESOLVED.labels(rule=row["rule"]).inc()
        log.info("ALERT resolved %s after %d normal windows", row["series_key"], streak)
        report.resolved.append(row["series_key"])
        # a resolve follows a firing message that went out; silenced episodes stay silent
        if row["last_notified_at"] is not None:
            self._notify(tx, {**row, **values}, "resolved", now, seq=0)


# -- operator actions ---------------------------------------------------------------------------
def ack(store: AlertStore, alert_id: int, by: str | None, now: datetime | None = None) -> bool:
    """Acknowledge an alert (no more repeats). False if it already was acknowledged; an
    :class:`AlertError` if there is no such alert — a typo must not look like success."""
    with store.transaction() as tx:
        done = tx.ack_alert(alert_id, by, now or datetime.now(UTC))
    if done is None:
        raise AlertError(f"no alert with id {alert_id}")
    return done
