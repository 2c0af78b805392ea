"""Replaying detection over history as the live scheduler would: episodes and their
bookkeeping, for ``finsentry alerts backtest`` and the bench.

:func:`replay` runs :func:`alerts.detect.detect_series` over many ticks, opening an episode at
the first firing tick, excluding it from the baseline while it lasts, and closing it after K
consecutive normal ticks — the lifecycle's rules, so a backtest says what the live detector
would have done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from alerts.config import DetectorSettings
from alerts.detect import Period, _utc, detect_series
from alerts.stats import cum
from pipeline.errors import AlertError


@dataclass(frozen=True, slots=True)
class Episode:
    """One alert as the lifecycle would raise it: first firing until K consecutive normal ticks.

    ``period`` (first firing window's start to the last abnormal window's end) is what later
    evaluations exclude from the key's baseline; ``resolved`` is None while still open.
    """

    key: str
    first_fired: pd.Timestamp
    last_abnormal: pd.Timestamp
    resolved: pd.Timestamp | None
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    ticks_firing: int
    max_lift: float
    min_p_share: float

    @property
    def period(self) -> Period:
        return (self.period_start.to_pydatetime(), self.period_end.to_pydatetime())


def replay(
    frame: pd.DataFrame,
    ticks: Sequence[datetime] | pd.DatetimeIndex,
    *,
    settings: DetectorSettings | None = None,
    resolve_after: int = 5,
    key: str = "",
    exclude: Iterable[Period] = (),
    n_tests: int | Sequence[int] | np.ndarray = 1,
    history_start: datetime | None = None,
) -> tuple[pd.DataFrame, list[Episode]]:
    """Run detection over ``ticks`` as the live scheduler would, with its alert bookkeeping.

    While an episode is open its period is excluded from the baseline as ``(start, None)``; once
    ``resolve_after`` consecutive ticks are normal it is closed and its period joins ``exclude``
    for every later tick. Returns the per-tick table (as :func:`detect_series`, in tick order)
    and the episodes. Cost: one vectorised pass per episode boundary.
    """
    s = settings or DetectorSettings()
    if resolve_after < 1:
        raise AlertError("resolve_after must be at least 1")
    idx = pd.DatetimeIndex([_utc(t, "tick") for t in ticks])
    tests = np.broadcast_to(np.asarray(n_tests, dtype=np.int64), (len(idx),))
    periods: list[Period] = list(exclude)
    parts: list[pd.DataFrame] = []
    episodes: list[Episode] = []
    i = 0
    while i < len(idx):
        det = detect_series(
            frame,
            idx[i:],
            settings=s,
            exclude=periods,
            n_tests=tests[i:],
            history_start=history_start,
        )
        fired = np.flatnonzero(det["is_spike"].to_numpy())
        if len(fired) == 0:
            parts.append(det)
            break
        f = int(fired[0])
        parts.append(det.iloc[:f])
        j = i + f
        opened = pd.Timestamp(det["window_start"].iloc[f])
        live = detect_series(
            frame,
            idx[j:],
            settings=s,
            exclude=[*periods, (opened, None)],
            n_tests=tests[j:],
            history_start=history_start,
        )
        # a firing tick is never a normal one, whatever the thresholds (the lifecycle refreshes
        # the alert on it and resets its streak); only a configuration whose firing level is
        # looser than its resolve level can make a tick both
        normal = live["normal"].to_numpy() & ~live["is_spike"].to_numpy()
        c = cum(normal.astype(np.int64))
        q_all = np.flatnonzero(c[resolve_after:] - c[:-resolve_after] == resolve_after)
        q = int(q_all[0]) + resolve_after - 1 if len(q_all) else None
        span = live if q is None else live.iloc[: q + 1]
        last = int(np.flatnonzero(~normal[: len(span)])[-1])
        episodes.append(
            Episode(
                key=key,
                first_fired=pd.Timestamp(idx[j]),
                last_abnormal=pd.Timestamp(idx[j + last]),
                resolved=None if q is None else pd.Timestamp(idx[j + q]),
                period_start=opened,
                period_end=pd.Timestamp(live["window_end"].iloc[last]),
                ticks_firing=int(span["is_spike"].sum()),
                max_lift=float(span["lift"].where(span["is_spike"]).max()),
                min_p_share=float(span["p_share"].where(span["is_spike"]).min()),
            )
        )
        parts.append(span)
        if q is None:
            break
        periods.append(episodes[-1].period)
        i = j + q + 1
    return pd.concat(parts) if parts else pd.DataFrame(), episodes
