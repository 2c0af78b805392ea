"""The statistics kernels of spike detection: pure numpy/scipy over a dense minute grid.

:func:`statistics` computes, for many window ends at once, the window counts, the key's clean
baseline (:func:`trim_anomalous`), the share and count over-dispersion and both tests, from
cumulative sums; :func:`decide` applies the gates in order. :mod:`alerts.detect` builds the grid
from a store frame and turns rows into :class:`~alerts.detect.Detection` verdicts; the method
and its assumptions are in ``alerts/README.md``.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from scipy import stats

from alerts.config import DetectorSettings


class Reason(StrEnum):
    """Why a window fired or not; the first gate that failed, in this order."""

    SPIKE = "spike"
    INSUFFICIENT_HISTORY = "insufficient_history"
    LOW_VOLUME = "low_volume"
    SMALL_LIFT = "small_lift"
    NOT_SIGNIFICANT = "not_significant"
    NOT_SUSTAINED = "not_sustained"


def normal(
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


def trim_anomalous(
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


def cum(a: np.ndarray) -> np.ndarray:
    """Cumulative sum with a leading zero: ``c[j] = a[:j].sum()``."""
    out = np.zeros(len(a) + 1, dtype=np.result_type(a.dtype, np.int64))
    np.cumsum(a, out=out[1:])
    return out


def statistics(
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
    cn, cx = cum(n), cum(x)
    win_n = cn[e] - cn[ws]
    win_x = cx[e] - cx[ws]

    nv, xv = n * valid, x * valid
    cnv, cxv, cv = cum(nv), cum(xv), cum(valid.astype(np.int64))
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
        c = cum(a)
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


def decide(
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
        "normal": normal(n, x, lift, c["p_share"], no_history, s),
        "reason": reason,
    }
