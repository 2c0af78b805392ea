"""Synthetic 1-minute series in the store's shape, built deterministically for the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

T0 = pd.Timestamp("2024-03-01", tz="UTC")
MIN = pd.Timedelta(minutes=1)


def stream(
    days: float,
    *,
    rate: float = 4.0,
    share: float = 0.2,
    seed: int = 0,
    start: pd.Timestamp = T0,
    seasonal: float = 0.5,
) -> pd.DataFrame:
    """Poisson arrivals (``rate`` per minute, daily cosine), binomial negatives at ``share``."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=round(days * 1440), freq="min", name="bucket_start")
    hour = index.hour + index.minute / 60
    lam = rate * (1 + seasonal * np.cos(2 * np.pi * (np.asarray(hour) - 14) / 24))
    n = rng.poisson(lam)
    neg = rng.binomial(n, share)
    pos = rng.binomial(n - neg, 0.5)
    return pd.DataFrame(
        {"n": n, "n_neg": neg, "n_neu": n - neg - pos, "n_pos": pos, "score_sum": 0.0},
        index=index,
    )


def plant(
    frame: pd.DataFrame,
    start: pd.Timestamp,
    minutes: int,
    *,
    share: float,
    rate: float | None = None,
    seed: int = 1,
) -> pd.DataFrame:
    """A copy of ``frame`` with ``[start, start + minutes)`` redrawn at ``share`` (and ``rate``)."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    sel = (out.index >= start) & (out.index < start + minutes * MIN)
    if rate is not None:
        out.loc[sel, "n"] = rng.poisson(rate, int(sel.sum()))
    n = out.loc[sel, "n"].to_numpy()
    neg = rng.binomial(n, share)
    out.loc[sel, "n_neg"] = neg
    out.loc[sel, "n_pos"] = (n - neg) // 2
    out.loc[sel, "n_neu"] = n - neg - (n - neg) // 2
    return out
