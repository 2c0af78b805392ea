"""``finsentry plot``: one series key as a PNG for reports and e-mail attachments.

The picture is the dashboard's chart on paper: negative / neutral / positive shares stacked on
top, volume below, and the key's alert periods shaded on both. It reads the store through the
same :func:`pipeline.query.series` the CLI and the HTTP API use, so the three never disagree.
matplotlib runs on the Agg backend (no display, no GUI toolkit), imported only here so that the
rest of finsentry does not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from pipeline.errors import ConfigError
from pipeline.query import require_key, series
from pipeline.store.schema import alerts

NEG, NEU, POS = "#d64545", "#b8bcc4", "#3f9b5a"
VOLUME, ALERT = "#4a6fa5", "#f2b134"


@dataclass(frozen=True)
class AlertPeriod:
    """One alert on the key: from its first firing window to its resolution (or still open)."""

    id: int
    start: datetime
    end: datetime | None
    status: str


def alert_periods(engine: Engine, key: str, since: datetime, until: datetime) -> list[AlertPeriod]:
    """The key's alerts that overlap ``[since, until)``, oldest first."""
    stmt = (
        select(alerts.c.id, alerts.c.started_at, alerts.c.resolved_at, alerts.c.status)
        .where(alerts.c.series_key == key, alerts.c.started_at < until)
        .where(alerts.c.resolved_at.is_(None) | (alerts.c.resolved_at >= since))
        .order_by(alerts.c.started_at)
    )
    with engine.connect() as conn:
        return [AlertPeriod(int(r[0]), r[1], r[2], str(r[3])) for r in conn.execute(stmt)]


def render(
    frame: pd.DataFrame,
    periods: list[AlertPeriod],
    out: Path,
    *,
    key: str,
    every: str,
    until: datetime,
) -> None:
    """Draw ``frame`` (a :func:`pipeline.query.series` result) and ``periods`` into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    # matplotlib dates: naive UTC
    idx = pd.DatetimeIndex(frame.index).tz_convert(UTC).tz_localize(None)
    n = frame["n"].where(frame["n"] > 0)
    shares = [(frame[c] / n).fillna(0.0).to_numpy() for c in ("n_neg", "n_neu", "n_pos")]
    # a step plot ends at its last x: repeat the last bucket at its end so it is drawn too
    edges = idx.append(pd.DatetimeIndex([idx[-1] + pd.Timedelta(every)])) if len(idx) else idx
    shares = [np.append(s, s[-1:]) for s in shares]
    width = pd.Timedelta(every) / pd.Timedelta(days=1)  # bar width in matplotlib day units

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    try:
        top.stackplot(
            edges,
            *shares,
            labels=["negative", "neutral", "positive"],
            colors=[NEG, NEU, POS],
            step="post",
        )
        top.set_ylim(0, 1)
        top.set_ylabel("share of articles")
        top.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        bottom.bar(idx, frame["n"], width=width, align="edge", color=VOLUME, label="articles")
        bottom.bar(idx, frame["n_neg"], width=width, align="edge", color=NEG, label="negative")
        bottom.legend(loc="upper left", fontsize=8, ncol=2, framealpha=0.9)
        bottom.set_ylabel("articles per bucket")
        end_cap = until.astimezone(UTC).replace(tzinfo=None)
        for i, p in enumerate(periods):
            start = p.start.astimezone(UTC).replace(tzinfo=None)
            end = p.end.astimezone(UTC).replace(tzinfo=None) if p.end else end_cap
            # over the shares (they fill the panel), behind the volume bars
            top.axvspan(start, end, color=ALERT, alpha=0.35, label="alert" if i == 0 else None)
            bottom.axvspan(start, end, color=ALERT, alpha=0.35, zorder=0)
        top.legend(loc="upper left", fontsize=8, ncol=4, framealpha=0.9)
        total, neg = int(frame["n"].sum()), int(frame["n_neg"].sum())
        share = f"{neg / total:.0%} negative" if total else "no articles"
        top.set_title(
            f"{key} — {total} articles, {share}, {len(periods)} alert(s); {every} buckets"
        )
        bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
        bottom.set_xlabel("UTC")
        if len(idx):
            bottom.set_xlim(idx[0], end_cap)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out, dpi=110)
    finally:
        plt.close(fig)


def plot(
    engine: Engine,
    key: str,
    since: datetime,
    until: datetime,
    every: str,
    out: Path,
) -> dict[str, object]:
    """Query, draw and save; returns what was drawn (for the CLI's one-line summary)."""
    if since >= until:
        raise ConfigError("--since must be before --until")
    if out.suffix.lower() != ".png":
        raise ConfigError(f"output must be a .png file: {out}")
    if not out.parent.is_dir():
        raise ConfigError(f"no such directory: {out.parent}")
    require_key(engine, key)
    frame = series(engine, key, since, until, every=every)
    periods = alert_periods(engine, key, since, until)
    render(frame, periods, out, key=key, every=every, until=until)
    return {
        "key": key,
        "buckets": len(frame),
        "articles": int(frame["n"].sum()),
        "alerts": [p.id for p in periods],
        "path": str(out),
    }
