"""Negative-spike detection for one series key: the latest closed window against its own baseline.

Everything here is pure (data in, verdict out) so that the scheduler, the backtest and the bench
run exactly the same code: :func:`detect_series` evaluates many ticks at once with cumulative
sums over a dense minute grid, and :meth:`Detector.evaluate` is that function for a single tick,
so a backtest over stored history says precisely what the live detector would have said.

The method (details and assumptions in ``alerts/README.md``):

* window ``[E - W, E)`` where ``E`` is the last full minute ``≤ now`` (minus ``settle_min``);
  baseline ``[E - W - B, E - W)``, minus minutes inside past alert periods and before the key's
  history starts;
* **share test** — negatives in the window against a beta-binomial with the baseline share and
  an intra-window correlation ``rho`` estimated (method of moments) from the baseline's own
  windows, so bursty keys are judged against their own burstiness; ``scipy.stats.betabinom``;
* **count guard** — negatives in the window against a negative binomial with the baseline's
  negative rate (time-of-day agnostic) and its over-dispersion from the same windows;
* **sustained** — the share test again on the longer ``confirm_window_min`` window ending at
  the same minute: a burst of copies of one story dominates 15 minutes, not 30;
* fires when both share p-values are below ``alpha / n_tests`` (Bonferroni over the keys tested
  at this tick), the count p-value below ``count_alpha``, the lift and the absolute rise are
  large enough, and window volume and baseline history are sufficient.

The statistics kernels live in :mod:`alerts.stats`; :func:`alerts.replay.replay` adds the
lifecycle's bookkeeping (episodes, exclusion of alert periods) for backtests and the bench.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from alerts.config import DetectorSettings
from alerts.stats import Reason, cum, decide, normal, statistics, trim_anomalous
from pipeline.errors import AlertError

MINUTE = pd.Timedelta(minutes=1)

# A past (or ongoing, end=None) alert period whose minutes are left out of the baseline.
Period = tuple[datetime, datetime | None]


@dataclass(frozen=True, slots=True)
class Detection:
    """The verdict on one key's latest closed window, with the evidence behind it.

    Shares are fractions of articles; ``baseline_rate`` is articles per minute; ``expected_neg``
    is the baseline's negative count for a window of the same length. Statistics are NaN where
    they are undefined (no baseline, or a window below ``min_n`` that is not tested).
    """

    key: str
    now: pd.Timestamp
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    n: int
    n_neg: int
    share: float
    baseline_share: float
    baseline_n: int
    baseline_neg: int
    baseline_minutes: int
    baseline_rate: float
    expected_neg: float
    rho: float  # share over-dispersion (beta-binomial intra-window correlation)
    count_dispersion: float  # negative-binomial alpha: var = mu + alpha * mu**2
    z_share: float
    p_share: float
    z_count: float
    p_count: float
    long_n: int  # the confirmation window (confirm_window_min, ending at window_end)
    long_n_neg: int
    long_share: float
    long_p_share: float
    alpha: float  # the share p-value threshold applied (alpha / n_tests)
    n_tests: int
    lift: float
    share_increase: float
    is_spike: bool
    normal: bool  # back to normal, for the lifecycle's "resolved after K normal windows"
    reason: Reason

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO-8601 times, NaN as None, floats rounded."""
        out: dict[str, Any] = {}
        for k, v in asdict(self).items():
            if isinstance(v, pd.Timestamp):
                out[k] = v.isoformat()
            elif isinstance(v, float):
                out[k] = None if math.isnan(v) else float(f"{v:.6g}")  # keeps tiny p-values
            elif isinstance(v, Reason):
                out[k] = v.value
            else:
                out[k] = v
        return out


def is_normal(detection: Detection, settings: DetectorSettings) -> bool:
    """Whether the window shows no elevated negativity any more (hysteresis below the firing bar).

    Normal when the window is not tested (too few articles or too little history), or its lift is
    below ``resolve_lift``, or its share p-value is at least ``resolve_alpha`` (uncorrected). The
    lifecycle resolves an alert after K consecutive normal evaluations.
    """
    return bool(
        normal(
            np.array([detection.n]),
            np.array([detection.n_neg]),
            np.array([detection.lift]),
            np.array([detection.p_share]),
            np.array([detection.reason == Reason.INSUFFICIENT_HISTORY]),
            settings,
        )[0]
    )


def closed_window(now: datetime, settings: DetectorSettings) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` of the latest closed window at ``now``: end = last full minute ≤ now."""
    end = _utc(now, "now").floor("min") - settings.settle_min * MINUTE
    return end - settings.window_min * MINUTE, end


def _utc(t: datetime | pd.Timestamp, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        raise AlertError(f"{what} must be timezone-aware (UTC), got {t!r}")
    return ts.tz_convert("UTC")


def _minute_series(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(minute number since epoch, n, n_neg) from a store frame; validates its shape."""
    if "bucket_start" in frame.columns and not isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_index("bucket_start")
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise AlertError("series frame needs a DatetimeIndex 'bucket_start'")
    if idx.tz is None:
        raise AlertError("series index must be timezone-aware (UTC)")
    missing = {"n", "n_neg"} - set(frame.columns)
    if missing:
        raise AlertError(f"series frame lacks columns {sorted(missing)}")
    minutes = idx.tz_convert("UTC").as_unit("ns").asi8 // 60_000_000_000
    n = np.rint(frame["n"].to_numpy(dtype=float, na_value=0.0)).astype(np.int64)
    x = np.rint(frame["n_neg"].to_numpy(dtype=float, na_value=0.0)).astype(np.int64)
    if (n < 0).any() or (x < 0).any() or (x > n).any():
        raise AlertError("series counts must satisfy 0 <= n_neg <= n")
    return minutes, n, x


def _epoch_minute(ts: pd.Timestamp) -> int:
    return int(ts.as_unit("ns").value // 60_000_000_000)


class Detector:
    """Spike detection with fixed settings; stateless, safe to share between threads."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()

    @property
    def lookback(self) -> pd.Timedelta:
        """How far before ``now`` the frame must reach: baseline plus the longer window."""
        s = self.settings
        longest = max(s.window_min, s.confirm_window_min) + s.settle_min
        return pd.Timedelta(days=s.baseline_days) + pd.Timedelta(minutes=longest + 1)

    def evaluate(
        self,
        frame: pd.DataFrame,
        now: datetime,
        *,
        key: str = "",
        exclude: Iterable[Period] = (),
        n_tests: int = 1,
        history_start: datetime | None = None,
    ) -> Detection:
        """The verdict on ``frame``'s latest closed window at ``now``.

        ``exclude`` lists the key's past alert periods (an ongoing one as ``(start, None)``);
        ``n_tests`` is how many keys are tested at this tick (see :meth:`evaluate_many`);
        ``history_start`` defaults to the frame's first bucket.
        """
        ts = _utc(now, "now")
        table = self.series(
            frame,
            [ts],
            exclude=exclude,
            n_tests=n_tests,
            history_start=history_start,
        )
        row = table.iloc[0]
        fields: dict[str, Any] = {"key": key, "now": ts}
        for name in Detection.__dataclass_fields__:
            if name in ("key", "now"):
                continue
            v = row[name]
            if name in _INT_FIELDS:
                fields[name] = int(v)
            elif name in ("is_spike", "normal"):
                fields[name] = bool(v)
            elif name == "reason":
                fields[name] = Reason(v)
            elif name in ("window_start", "window_end"):
                fields[name] = pd.Timestamp(v)
            else:
                fields[name] = float(v)
        return Detection(**fields)

    def evaluate_many(
        self,
        frames: Mapping[str, pd.DataFrame],
        now: datetime,
        *,
        exclusions: Mapping[str, Iterable[Period]] | None = None,
    ) -> dict[str, Detection]:
        """Evaluate every key at one tick with a Bonferroni correction over the tested keys.

        A key counts as tested when its window holds at least ``min_n`` articles: that gate does
        not depend on the window's share, so correcting over the tested keys only keeps the
        family-wise false-alarm rate per tick at ``alpha``.
        """
        exclusions = exclusions or {}
        tested = int(keys_tested_per_tick(frames.values(), [_utc(now, "now")], self.settings)[0])
        return {
            key: self.evaluate(frame, now, key=key, exclude=exclusions.get(key, ()), n_tests=tested)
            for key, frame in frames.items()
        }

    def series(
        self,
        frame: pd.DataFrame,
        ticks: Sequence[datetime] | pd.DatetimeIndex,
        *,
        exclude: Iterable[Period] = (),
        n_tests: int | Sequence[int] | np.ndarray = 1,
        history_start: datetime | None = None,
    ) -> pd.DataFrame:
        """Evaluate many ticks at once; one row per tick (index ``now``), Detection's columns."""
        return detect_series(
            frame,
            ticks,
            settings=self.settings,
            exclude=exclude,
            n_tests=n_tests,
            history_start=history_start,
        )


_INT_FIELDS = frozenset(
    (
        "n",
        "n_neg",
        "baseline_n",
        "baseline_neg",
        "baseline_minutes",
        "n_tests",
        "long_n",
        "long_n_neg",
    )
)


def keys_tested_per_tick(
    frames: Iterable[pd.DataFrame],
    ticks: Sequence[datetime] | pd.DatetimeIndex,
    settings: DetectorSettings | None = None,
) -> np.ndarray:
    """For a backtest over many keys: how many keys are tested (window ``n >= min_n``) per tick.

    Pass the result as ``n_tests`` to :func:`detect_series` / :func:`replay` to apply the same
    Bonferroni correction as :meth:`Detector.evaluate_many` does live. Never less than 1.
    """
    s = settings or DetectorSettings()
    now = _ticks(ticks)
    counts = np.zeros(len(now), dtype=np.int64)
    if len(now) == 0:
        return counts
    ends = now.floor("min").as_unit("ns").asi8 // 60_000_000_000 - s.settle_min
    t0 = int(ends.min()) - s.window_min
    length = int(ends.max()) - t0
    e = ends - t0
    for frame in frames:
        minutes, n_raw, _ = _minute_series(frame)
        keep = (minutes >= t0) & (minutes < t0 + length)
        n = np.bincount(minutes[keep] - t0, weights=n_raw[keep], minlength=length)
        c = cum(np.rint(n).astype(np.int64))
        counts += (c[e] - c[e - s.window_min]) >= s.min_n
    return np.maximum(counts, 1)


def _ticks(ticks: Sequence[datetime] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    if isinstance(ticks, pd.DatetimeIndex):
        if ticks.tz is None:
            raise AlertError("ticks must be timezone-aware (UTC)")
        return pd.DatetimeIndex(ticks.tz_convert("UTC"), name="now")
    return pd.DatetimeIndex([_utc(t, "tick") for t in ticks], name="now")


def detect_series(
    frame: pd.DataFrame,
    ticks: Sequence[datetime] | pd.DatetimeIndex,
    *,
    settings: DetectorSettings | None = None,
    exclude: Iterable[Period] = (),
    n_tests: int | Sequence[int] | np.ndarray = 1,
    history_start: datetime | None = None,
) -> pd.DataFrame:
    """Vectorised detection at every tick in ``ticks`` (each sees only data before its window end).

    Returns a DataFrame indexed by ``now`` with the columns of :class:`Detection` (except
    ``key``/``now``). ``n_tests`` is a scalar or one value per tick.
    """
    s = settings or DetectorSettings()
    now = _ticks(ticks)
    if len(now) == 0:
        return pd.DataFrame(index=now)
    tests = np.broadcast_to(np.asarray(n_tests, dtype=np.int64), (len(now),))
    if (tests < 1).any():
        raise AlertError("n_tests must be at least 1")
    w, wl = s.window_min, s.confirm_window_min
    b = round(s.baseline_days * 1440)
    ends = now.floor("min").as_unit("ns").asi8 // 60_000_000_000 - s.settle_min
    t0 = int(ends.min()) - max(w, wl) - b
    length = int(ends.max()) - t0
    minutes, n_raw, x_raw = _minute_series(frame)
    keep = (minutes >= t0) & (minutes < t0 + length)
    pos = minutes[keep] - t0
    n = np.bincount(pos, weights=n_raw[keep], minlength=length).astype(np.int64)
    x = np.bincount(pos, weights=x_raw[keep], minlength=length).astype(np.int64)

    valid = np.ones(length, dtype=bool)
    if history_start is not None:
        hs = _epoch_minute(_utc(history_start, "history_start").floor("min"))
    else:
        hs = int(minutes.min()) if len(minutes) else t0 + length
    valid[: max(0, min(hs - t0, length))] = False
    for p_start, p_end in exclude:
        lo = _epoch_minute(_utc(p_start, "period start").floor("min")) - t0
        hi = length if p_end is None else _epoch_minute(_utc(p_end, "period end").ceil("min")) - t0
        valid[max(lo, 0) : max(min(hi, length), 0)] = False

    valid = trim_anomalous(n, x, valid, t0, w, b, s)
    e = ends - t0  # grid index of each window end (exclusive)
    cols = statistics(n, x, valid, e, w, b, s)
    if wl:
        long = statistics(n, x, valid, e, wl, b, s, count_test=False)
        cols.update({f"long_{k}": long[k] for k in ("n", "n_neg", "share", "p_share")})
    else:
        zero, nan = np.zeros(len(e), dtype=np.int64), np.full(len(e), np.nan)
        cols.update({"long_n": zero, "long_n_neg": zero, "long_share": nan, "long_p_share": nan})
    cols.update(decide(cols, tests, s))
    out = pd.DataFrame(cols, index=now)
    out.insert(0, "window_end", pd.to_datetime(ends * 60, unit="s", utc=True))
    out.insert(0, "window_start", pd.to_datetime((ends - w) * 60, unit="s", utc=True))
    return out
