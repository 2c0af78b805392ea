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

:func:`replay` adds the lifecycle's bookkeeping (episodes, exclusion of alert periods) for
backtests and the bench.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alerts.config import DetectorSettings
from pipeline.errors import AlertError

MINUTE = pd.Timedelta(minutes=1)

# A past (or ongoing, end=None) alert period whose minutes are left out of the baseline.
Period = tuple[datetime, datetime | None]


class Reason(StrEnum):
    """Why a window fired or not; the first gate that failed, in this order."""

    SPIKE = "spike"
    INSUFFICIENT_HISTORY = "insufficient_history"
    LOW_VOLUME = "low_volume"
    SMALL_LIFT = "small_lift"
    NOT_SIGNIFICANT = "not_significant"
    NOT_SUSTAINED = "not_sustained"


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
        _normal(
            np.array([detection.n]),
            np.array([detection.n_neg]),
            np.array([detection.lift]),
            np.array([detection.p_share]),
            np.array([detection.reason == Reason.INSUFFICIENT_HISTORY]),
            settings,
        )[0]
    )


def _normal(
    n: np.ndarray,
    x: np.ndarray,
    lift: np.ndarray,
    p_share: np.ndarray,
    no_history: np.ndarray,
    s: DetectorSettings,
) -> np.ndarray:
    low = (n < s.min_n) | (x < s.min_neg) | no_history
    with np.errstate(invalid="ignore"):
        calm = (lift < s.resolve_lift) | ~(p_share < s.resolve_alpha)
    return np.asarray(low | calm, dtype=bool)


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
        start, end = closed_window(now, self.settings)
        tested = sum(window_count(f, start, end) >= self.settings.min_n for f in frames.values())
        return {
            key: self.evaluate(
                frame, now, key=key, exclude=exclusions.get(key, ()), n_tests=max(tested, 1)
            )
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


def window_count(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Articles in ``frame`` with ``start <= bucket_start < end``."""
    minutes, n, _ = _minute_series(frame)
    lo, hi = _epoch_minute(start), _epoch_minute(end)
    return int(n[(minutes >= lo) & (minutes < hi)].sum())


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
        c = _cum(np.rint(n).astype(np.int64))
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

    valid = _trim_anomalous(n, x, valid, t0, w, b, s)
    e = ends - t0  # grid index of each window end (exclusive)
    cols = _statistics(n, x, valid, e, w, b, s)
    if wl:
        long = _statistics(n, x, valid, e, wl, b, s, count_test=False)
        cols.update({f"long_{k}": long[k] for k in ("n", "n_neg", "share", "p_share")})
    else:
        zero, nan = np.zeros(len(e), dtype=np.int64), np.full(len(e), np.nan)
        cols.update({"long_n": zero, "long_n_neg": zero, "long_share": nan, "long_p_share": nan})
    cols.update(_decide(cols, tests, s))
    out = pd.DataFrame(cols, index=now)
    out.insert(0, "window_end", pd.to_datetime(ends * 60, unit="s", utc=True))
    out.insert(0, "window_start", pd.to_datetime((ends - w) * 60, unit="s", utc=True))
    return out


def _trim_anomalous(
    n: np.ndarray, x: np.ndarray, valid: np.ndarray, t0: int, w: int, b: int, s: DetectorSettings
) -> np.ndarray:
    """``valid`` without the minutes of anomalous blocks (see ``clean_baseline_alpha``).

    Blocks are ``w`` minutes aligned to the Unix epoch (so the live tick and a backtest mark the
    same blocks). Each block is compared with the pooled share of the kept blocks in the ``b``
    minutes before it — trailing only, so the verdict on a block never depends on later data —
    with a binomial z-test widened by ``rho_min``; anomalous blocks are not kept, so they don't
    feed later references either. The key's own current window is never in its baseline anyway;
    this removes *earlier* excursions, alerted or not.
    """
    if not s.clean_baseline_alpha:
        return valid
    offset = (-t0) % w
    nb = (len(n) - offset) // w
    if nb < 2:
        return valid
    cut = slice(offset, offset + nb * w)
    bn = n[cut].reshape(nb, w).sum(axis=1)
    bx = x[cut].reshape(nb, w).sum(axis=1)
    keep: np.ndarray = np.asarray(valid[cut].reshape(nb, w).all(axis=1), dtype=bool)
    span = max(1, b // w)
    z_crit = float(stats.norm.isf(s.clean_baseline_alpha))
    kn = np.zeros(nb + 1)
    kx = np.zeros(nb + 1)
    for i in range(nb):
        lo = max(0, i - span)
        ref_n = kn[i] - kn[lo]
        if keep[i] and ref_n > 0 and bn[i] >= s.min_neg:
            p = min(max((kx[i] - kx[lo]) / ref_n, s.share_floor), 1 - 1e-9)
            var = bn[i] * p * (1 - p) * (1 + (bn[i] - 1) * s.rho_min)
            z = (bx[i] - bn[i] * p) / np.sqrt(var)
            if z > z_crit and bx[i] >= bn[i] * p * s.resolve_lift:
                keep[i] = False
        kn[i + 1] = kn[i] + (bn[i] if keep[i] else 0)
        kx[i + 1] = kx[i] + (bx[i] if keep[i] else 0)
    trimmed = valid.copy()
    trimmed[cut] &= np.repeat(keep, w)
    return trimmed


def _cum(a: np.ndarray) -> np.ndarray:
    """Cumulative sum with a leading zero: ``c[j] = a[:j].sum()``."""
    out = np.zeros(len(a) + 1, dtype=np.result_type(a.dtype, np.int64))
    np.cumsum(a, out=out[1:])
    return out


def _statistics(
    n: np.ndarray,
    x: np.ndarray,
    valid: np.ndarray,
    e: np.ndarray,
    w: int,
    b: int,
    s: DetectorSettings,
    *,
    count_test: bool = True,
) -> dict[str, np.ndarray]:
    """Counts, baseline, dispersion and tests for the ``w``-minute windows ending at ``e``.

    ``n``, ``x`` and ``valid`` are per-minute on a grid; the window of tick i is
    ``[e[i] - w, e[i])`` and its baseline ``[e[i] - w - b, e[i] - w)`` restricted to valid minutes.
    """
    ws = e - w
    bs = ws - b
    cn, cx = _cum(n), _cum(x)
    win_n = cn[e] - cn[ws]
    win_x = cx[e] - cx[ws]

    nv, xv = n * valid, x * valid
    cnv, cxv, cv = _cum(nv), _cum(xv), _cum(valid.astype(np.int64))
    base_n = cnv[ws] - cnv[bs]
    base_x = cxv[ws] - cxv[bs]
    base_m = cv[ws] - cv[bs]

    # Baseline windows: every w-minute window ending at k (exclusive) that lies inside the
    # baseline and has no excluded or pre-history minute. Window ends k in [bs + w, ws] sit at
    # positions [bs, ws - w] of the k-array; sums over them come from cumulative sums.
    k = np.arange(w, len(n) + 1)
    full = (cv[k] - cv[k - w]) == w
    wn = np.where(full, cnv[k] - cnv[k - w], 0)
    wx = np.where(full, cxv[k] - cxv[k - w], 0)
    lo = bs
    hi = np.maximum(ws - w + 1, lo)

    def over_baseline(a: np.ndarray) -> np.ndarray:
        c = _cum(a)
        return np.asarray(c[hi] - c[lo], dtype=float)

    j = over_baseline(full.astype(np.int64))
    s_n, s_x = over_baseline(wn), over_baseline(wx)
    s_nn, s_xx, s_xn = over_baseline(wn * wn), over_baseline(wx * wx), over_baseline(wx * wn)

    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(win_n > 0, win_x / np.maximum(win_n, 1), np.nan)
        p0 = np.where(base_n > 0, base_x / np.maximum(base_n, 1), np.nan)
        rate = np.where(base_m > 0, base_n / np.maximum(base_m, 1), np.nan)
        mu = np.where(base_m > 0, base_x / np.maximum(base_m, 1) * w, np.nan)

        # Beta-binomial intra-window correlation by the method of moments (Kleinman 1973):
        # sum (x - n p)^2 = p (1 - p) sum n (1 + (n - 1) rho), over the baseline's windows.
        pw = np.where(s_n > 0, s_x / np.maximum(s_n, 1), np.nan)
        pq = pw * (1 - pw)
        resid = s_xx - 2 * pw * s_xn + pw * pw * s_nn
        rho = (resid - pq * s_n) / (pq * (s_nn - s_n))
        rho = np.clip(np.where(np.isfinite(rho), rho, s.rho_min), s.rho_min, s.rho_max)

        # Negative-count over-dispersion across the same windows: var = mu + a mu^2.
        mc = s_x / np.maximum(j, 1)
        vc = s_xx / np.maximum(j, 1) - mc * mc
        nb_a = np.where((j > 1) & (mc > 0), (vc - mc) / (mc * mc), 0.0)
        nb_a = np.clip(nb_a, 0.0, s.nb_alpha_max)

        # The share tested against is floored: a key that "never" turns negative would
        # otherwise fire on its first few negative articles.
        p_test = np.clip(np.nan_to_num(p0, nan=s.share_floor), s.share_floor, 1 - 1e-9)
        var_share = win_n * p_test * (1 - p_test) * (1 + (win_n - 1) * rho)
        z_share = np.where(
            (win_n > 0) & (base_n > 0), (win_x - win_n * p_test) / np.sqrt(var_share), np.nan
        )
        mu_test = np.maximum(np.nan_to_num(mu, nan=0.0), 1e-3)
        z_count = np.where(
            base_m > 0, (win_x - mu_test) / np.sqrt(mu_test + nb_a * mu_test**2), np.nan
        )

    # Only windows with enough articles are tested (the rest can't fire anyway).
    t = (win_n >= s.min_n) & (base_n > 0)
    p_share = np.full(len(e), np.nan)
    p_count = np.full(len(e), np.nan)
    if t.any():
        scale = 1.0 / rho[t] - 1.0
        p_share[t] = stats.betabinom.sf(
            win_x[t] - 1, win_n[t], p_test[t] * scale, (1 - p_test[t]) * scale
        )
        if count_test:
            r = 1.0 / np.maximum(nb_a[t], 1e-9)
            nb_p = stats.nbinom.sf(win_x[t] - 1, r, r / (r + mu_test[t]))
            po_p = stats.poisson.sf(win_x[t] - 1, mu_test[t])
            p_count[t] = np.where(nb_a[t] > 1e-6, nb_p, po_p)

    return {
        "n": win_n,
        "n_neg": win_x,
        "share": share,
        "baseline_share": p0,
        "baseline_n": base_n,
        "baseline_neg": base_x,
        "baseline_minutes": base_m,
        "baseline_rate": rate,
        "expected_neg": mu,
        "rho": rho,
        "count_dispersion": nb_a,
        "z_share": z_share,
        "p_share": p_share,
        "z_count": z_count,
        "p_count": p_count,
    }


def _decide(
    c: dict[str, np.ndarray], n_tests: np.ndarray, s: DetectorSettings
) -> dict[str, np.ndarray]:
    """Gates in order: history, volume, effect size, significance, persistence."""
    n, x = c["n"], c["n_neg"]
    share, p0 = c["share"], c["baseline_share"]
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = share / np.maximum(np.nan_to_num(p0, nan=0.0), s.share_floor)
        increase = share - p0
    alpha = s.alpha / n_tests
    no_history = (c["baseline_minutes"] < s.min_history_hours * 60) | (
        c["baseline_n"] < s.min_baseline_n
    )
    low = (n < s.min_n) | (x < s.min_neg)
    with np.errstate(invalid="ignore"):
        small = ~((lift >= s.min_lift) & (increase >= s.min_share_increase))
        weak = ~((c["p_share"] < alpha) & (c["p_count"] < s.count_alpha))
        brief = ~(c["long_p_share"] < alpha) if s.confirm_window_min else np.zeros_like(weak)
    reason = np.select(
        [no_history, low, small, weak, brief],
        [
            Reason.INSUFFICIENT_HISTORY.value,
            Reason.LOW_VOLUME.value,
            Reason.SMALL_LIFT.value,
            Reason.NOT_SIGNIFICANT.value,
            Reason.NOT_SUSTAINED.value,
        ],
        default=Reason.SPIKE.value,
    )
    return {
        "alpha": alpha.astype(float),
        "n_tests": n_tests.astype(np.int64),
        "lift": lift,
        "share_increase": increase,
        "is_spike": reason == Reason.SPIKE.value,
        "normal": _normal(n, x, lift, c["p_share"], no_history, s),
        "reason": reason,
    }


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
        normal = live["normal"].to_numpy()
        c = _cum(normal.astype(np.int64))
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
