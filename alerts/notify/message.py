"""What a notification says: a snapshot of the alert taken when it is enqueued, and its texts.

The outbox stores :func:`alert_payload` — the alert row and its evidence, JSON-ready — with each
row, so a message delivered an hour late (endpoint outage) still describes the alert as it was
when the event happened, not as the row reads now. :class:`NotificationMessage` reads that
snapshot tolerantly: detection's evidence may grow, shrink or rename fields (``share`` or
``observed_share``, ``p_share`` or ``p_value``) and a missing number prints as ``n/a`` rather
than failing a delivery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

RULE_LABELS = {"neg_spike": "negative spike", "negative_spike": "negative spike"}
EVENT_LABELS = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}
ALERT_FIELDS = (
    "id",
    "fingerprint",
    "rule",
    "series_key",
    "status",
    "started_at",
    "last_fired_at",
    "resolved_at",
    "acked_at",
    "acked_by",
)


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO-8601 and non-finite floats as ``None`` (JSON columns on
    PostgreSQL refuse NaN)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item())
    return value


def alert_payload(alert: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The outbox payload for one event: the alert row's fields, its evidence, and ``extra``
    (for example the resolving window's evidence as ``resolve_evidence``)."""
    snapshot = {k: alert.get(k) for k in ALERT_FIELDS if k in alert}
    payload: dict[str, Any] = {"alert": snapshot, "evidence": alert.get("evidence") or {}}
    payload.update(extra)
    out: dict[str, Any] = jsonable(payload)
    return out


@dataclass(frozen=True, slots=True)
class TopArticle:
    """A negative article that drove the alert, with the words that drove its label."""

    id: str
    title: str
    score: float | None = None
    explanation: tuple[tuple[str, float | None], ...] = ()

    @property
    def words(self) -> str:
        return ", ".join(t for t, _ in self.explanation)

    @classmethod
    def parse(cls, raw: Any) -> TopArticle | None:
        if not isinstance(raw, Mapping):
            return None
        words: list[tuple[str, float | None]] = []
        for item in raw.get("explanation") or ():
            if isinstance(item, str):
                words.append((item, None))
            elif isinstance(item, Mapping) and "token" in item:
                words.append((str(item["token"]), _float(item.get("weight"))))
            elif isinstance(item, Sequence) and item and not isinstance(item, str):
                words.append((str(item[0]), _float(item[1]) if len(item) > 1 else None))
        title = raw.get("title") or raw.get("headline") or "(untitled)"
        return cls(str(raw.get("id", "")), str(title), _float(raw.get("score")), tuple(words))


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(v: Any) -> int | None:
    f = _float(v)
    return None if f is None else int(f)


def _first(m: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if m.get(k) is not None:
            return m[k]
    return None


def _words(raw: Any) -> tuple[str, ...]:
    """``[[token, weight], …]`` or ``[token, …]`` → the tokens."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Sequence) and item and not isinstance(item, str):
            out.append(str(item[0]))
    return tuple(out)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# The one set of number formatters for alert texts: notifications and `finsentry alerts show`.
def pct(x: Any) -> str:
    """``0.42`` → ``42.0%``; anything that is not a finite number → ``n/a``."""
    return f"{x:.1%}" if _number(x) else "n/a"


def num(x: Any, fmt: str = ".2f") -> str:
    """``x`` in ``fmt``; anything that is not a finite number → ``n/a``."""
    return format(x, fmt) if _number(x) else "n/a"


def when(iso: str | None) -> str:
    """``2026-03-02 14:15 UTC`` from an ISO-8601 string; the string itself if it won't parse."""
    if not iso:
        return "n/a"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class NotificationMessage:
    """One notification, channel-neutral; channels render it (JSON, Slack blocks, email)."""

    idempotency_key: str
    event: str
    alert_id: int
    rule: str
    series_key: str
    fingerprint: str | None = None
    started_at: str | None = None
    resolved_at: str | None = None
    acked_at: str | None = None
    window_start: str | None = None
    window_end: str | None = None
    n: int | None = None
    n_neg: int | None = None
    observed_share: float | None = None
    baseline_share: float | None = None
    lift: float | None = None
    p_value: float | None = None
    statistic: float | None = None
    top_articles: tuple[TopArticle, ...] = ()
    top_words: tuple[str, ...] = ()
    created_at: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_payload(
        cls,
        *,
        idempotency_key: str,
        event: str,
        alert_id: int,
        payload: Mapping[str, Any] | None,
        created_at: datetime | str | None = None,
    ) -> NotificationMessage:
        payload = payload or {}
        alert = payload.get("alert") if isinstance(payload.get("alert"), Mapping) else {}
        ev = payload.get("evidence") if isinstance(payload.get("evidence"), Mapping) else {}
        assert isinstance(alert, Mapping) and isinstance(ev, Mapping)
        tops = [TopArticle.parse(a) for a in ev.get("top_articles") or ()]
        created = created_at.isoformat() if isinstance(created_at, datetime) else created_at
        return cls(
            idempotency_key=idempotency_key,
            event=event,
            alert_id=alert_id,
            rule=str(alert.get("rule") or ev.get("rule") or "neg_spike"),
            series_key=str(_first(alert, "series_key") or _first(ev, "series_key", "key") or "?"),
            fingerprint=alert.get("fingerprint"),
            started_at=_first(alert, "started_at") or ev.get("window_start"),
            resolved_at=alert.get("resolved_at"),
            acked_at=alert.get("acked_at"),
            window_start=ev.get("window_start"),
            window_end=ev.get("window_end"),
            n=_int(ev.get("n")),
            n_neg=_int(ev.get("n_neg")),
            observed_share=_float(_first(ev, "observed_share", "share")),
            baseline_share=_float(ev.get("baseline_share")),
            lift=_float(ev.get("lift")),
            p_value=_float(_first(ev, "p_value", "p_share")),
            statistic=_float(_first(ev, "statistic", "z_share")),
            top_articles=tuple(a for a in tops if a is not None),
            top_words=_words(ev.get("top_words")),
            created_at=created,
            payload=payload,
        )

    # -- texts ----------------------------------------------------------------------------
    @property
    def headline(self) -> str:
        """``FIRING negative spike on entity:ACME``"""
        label = EVENT_LABELS.get(self.event, self.event.upper())
        rule = RULE_LABELS.get(self.rule, self.rule.replace("_", " "))
        return f"{label} {rule} on {self.series_key}"

    @property
    def subject(self) -> str:
        return f"[finsentry] {self.headline}"

    @property
    def summary(self) -> str:
        """One sentence: what was observed, or that it is over."""
        if self.event == "resolved":
            return (
                f"Negative sentiment on {self.series_key} is back to normal "
                f"(resolved {when(self.resolved_at)}; episode started {when(self.started_at)})."
            )
        counts = f"{self.n_neg} of {self.n} articles" if self.n is not None else "n/a articles"
        return (
            f"Negative share on {self.series_key} is {pct(self.observed_share)} against a "
            f"baseline of {pct(self.baseline_share)} (lift {num(self.lift)}×, "
            f"p = {num(self.p_value, '.2g')}; {counts} negative in "
            f"{when(self.window_start)} – {when(self.window_end)})."
        )

    def evidence_lines(self) -> list[str]:
        return [
            f"Series key:      {self.series_key}",
            f"Window:          {when(self.window_start)} – {when(self.window_end)}",
            f"Articles:        {self.n if self.n is not None else 'n/a'}"
            f" ({self.n_neg if self.n_neg is not None else 'n/a'} negative)",
            f"Negative share:  {pct(self.observed_share)} observed vs "
            f"{pct(self.baseline_share)} baseline",
            f"Lift:            {num(self.lift)}×",
            f"p-value:         {num(self.p_value, '.3g')} (statistic {num(self.statistic, '.2f')})",
            f"Episode started: {when(self.started_at)}",
            *([f"Driving words:   {', '.join(self.top_words)}"] if self.top_words else []),
        ]

    def article_lines(self, limit: int = 5) -> list[str]:
        lines = []
        for a in self.top_articles[:limit]:
            words = f" — words: {a.words}" if a.explanation else ""
            score = f" (score {a.score:+.2f})" if a.score is not None else ""
            lines.append(f"• {a.title}{score}{words}")
        return lines

    def text(self) -> str:
        """The plain-text body (email, log): summary, evidence, top negative headlines."""
        parts = [self.headline, "", self.summary]
        if self.event == "resolved":
            parts += ["", f"Alert #{self.alert_id} ({self.fingerprint or self.rule})"]
            return "\n".join(parts) + "\n"
        parts += ["", *self.evidence_lines()]
        if self.top_articles:
            parts += ["", "Top negative headlines:", *self.article_lines()]
        parts += ["", f"Alert #{self.alert_id} ({self.fingerprint or self.rule})"]
        return "\n".join(parts) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """The JSON document webhooks and the log channel carry."""
        alert = self.payload.get("alert") if isinstance(self.payload, Mapping) else None
        return jsonable(
            {
                "idempotency_key": self.idempotency_key,
                "event": self.event,
                "headline": self.headline,
                "summary": self.summary,
                "alert": dict(alert) if isinstance(alert, Mapping) else {"id": self.alert_id},
                "evidence": dict(self.payload.get("evidence") or {}),
                **{k: v for k, v in self.payload.items() if k not in ("alert", "evidence")},
                "created_at": self.created_at,
            }
        )
