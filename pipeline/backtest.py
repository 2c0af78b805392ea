"""Backtest: replay the live detector over stored history and list what would have fired.

It uses the same code path as the scheduler (``alerts.detect.replay`` is the vectorised form of
one tick after another, with the lifecycle's episode bookkeeping), the same settings, and a
Bonferroni correction over the keys tested at each tick, so tuning thresholds here tunes the
live system.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, func, select

from alerts.config import AlertSettings
from alerts.detect import Detector, keys_tested_per_tick
from alerts.replay import replay
from pipeline.store.alerts_sql import history_starts, load_frames, volume_column
from pipeline.store.schema import sentiment_series


def _frames(
    engine: Engine,
    keys: Sequence[str] | None,
    since: datetime,
    until: datetime,
    min_n: int,
    count: str = "stories",
) -> tuple[dict[str, pd.DataFrame], dict[str, datetime]]:
    with engine.connect() as conn:
        if keys is None:
            keys = list(
                conn.execute(
                    select(sentiment_series.c.series_key)
                    .where(sentiment_series.c.bucket_start < until)
                    .group_by(sentiment_series.c.series_key)
                    .having(func.max(sentiment_series.c.n) > 0)
                    .having(func.sum(volume_column(count)) >= min_n)
                ).scalars()
            )
        frames = load_frames(conn, list(keys), since, until, count)
        first = history_starts(conn, list(keys))
    return frames, first


def backtest(
    engine: Engine,
    settings: AlertSettings,
    since: datetime,
    until: datetime,
    *,
    keys: Sequence[str] | None = None,
    step: timedelta = timedelta(minutes=1),
) -> pd.DataFrame:
    """Episodes that would have fired in ``[since, until)``, one row each."""
    d = settings.detector
    # the first tick's windows (the confirmation window included) and their baselines
    lookback = Detector(d).lookback.to_pytimedelta()
    frames, first = _frames(engine, keys, since - lookback, until, d.min_n, settings.count)
    ticks = pd.date_range(since, until, freq=step, inclusive="left")
    columns = [
        "series_key",
        "first_fired",
        "resolved",
        "period_start",
        "period_end",
        "ticks_firing",
        "max_lift",
        "min_p_share",
    ]
    if not frames or len(ticks) == 0:
        return pd.DataFrame(columns=columns)
    # keys tested per tick (volume gate): the one count the live tick and the bench use too
    n_tests = keys_tested_per_tick(frames.values(), ticks, d)
    rows = []
    for key, frame in frames.items():
        _, episodes = replay(
            frame,
            ticks,
            settings=d,
            resolve_after=settings.resolve_after_windows,
            key=key,
            n_tests=n_tests,
            history_start=first.get(key),
        )
        for e in episodes:
            rows.append(
                {
                    "series_key": key,
                    "first_fired": e.first_fired,
                    "resolved": e.resolved,
                    "period_start": e.period_start,
                    "period_end": e.period_end,
                    "ticks_firing": e.ticks_firing,
                    "max_lift": round(e.max_lift, 3),
                    "min_p_share": float(f"{e.min_p_share:.3g}"),
                }
            )
    return pd.DataFrame(rows, columns=columns).sort_values(["first_fired", "series_key"])
