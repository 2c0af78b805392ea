"""Synthetic per-key sentiment series with planted negative spikes, for the alerts bench.

The streams are built minute by minute in the store's shape (``n, n_neg, n_neu, n_pos,
score_sum`` on a UTC ``bucket_start`` index) from four ingredients, each one something that real
news does and that a naive detector mistakes for a spike:

* **Poisson arrivals with daily seasonality**: the article rate follows a cosine over the day
  (quiet nights, busy afternoons), so window volumes vary several-fold.
* **a slowly varying negative share**: the key's share (10–30 %) drifts ±15 % over the day.
* **bursts**: a few times a day a story is picked up by many outlets at once; the burst's
  articles mostly share one label, so a burst of negative rewrites lifts the share of one window
  without being a mood change. This is the over-dispersion the detector has to absorb.
* **planted spikes** (``spiky`` keys only): for 30–180 minutes the negative share is multiplied
  by 2–4 and the volume by 1–2, with at least ``min_spike_window_n`` expected articles per window.

``stationary`` keys have the same ingredients without spikes; ``sparse`` keys are stationary
with 1–8 articles per window, to check that tiny volumes don't produce alerts.

The *realistic* setting of the bench adds what real streams do to a detector that the clean
setting leaves out:

* **syndication**: several times a day a story arrives as 4–10 identical copies within a few
  minutes (``copy_bursts_per_day``);
* **classifier error**: every article's label is drawn through a confusion matrix (rows: true
  negative / neutral / positive; columns: the label the classifier gives), and the copies of one
  story share one drawn label — the same text gets the same answer;
* **weekends**: volume on Saturdays and Sundays is multiplied by ``weekend_factor``.

Planted episodes are defined on the *true* labels; the detector sees the observed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MINUTES_PER_DAY = 1440
EPOCH = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass(frozen=True, slots=True)
class PlantedSpike:
    """One negative episode planted in a key's stream: ``[start, end)``, UTC."""

    key: str
    start: pd.Timestamp
    end: pd.Timestamp
    factor: float  # negative share multiplier
    base_share: float
    spike_share: float
    window_n: float  # mean articles per window during the spike (realised)
    realized_share: float  # negative share actually drawn during the spike

    @property
    def minutes(self) -> int:
        return int((self.end - self.start) / pd.Timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class SimulatedKey:
    """A key's generated stream and the spikes planted in it."""

    key: str
    kind: str  # "spiky", "stationary" or "sparse"
    share: float
    rate_per_min: float
    frame: pd.DataFrame
    spikes: tuple[PlantedSpike, ...]


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to generate. ``history_days`` precede the ``days`` that the bench evaluates."""

    n_keys: int = 40
    days: float = 7.0
    history_days: float = 7.0
    seed: int = 0
    start: pd.Timestamp = EPOCH
    window_min: int = 15
    stationary_fraction: float = 0.25
    sparse_fraction: float = 0.15
    spikes_per_key_day: float = 0.5
    min_gap_hours: float = 6.0
    spike_minutes: tuple[int, int] = (30, 180)
    spike_factor: tuple[float, float] = (2.0, 4.0)
    spike_volume: tuple[float, float] = (1.0, 2.0)
    min_spike_window_n: float = 30.0
    window_n: tuple[float, float] = (15.0, 150.0)  # mean articles per window, log-uniform
    sparse_window_n: tuple[float, float] = (1.0, 8.0)
    share: tuple[float, float] = (0.10, 0.30)
    bursts_per_day: float = 4.0
    burst_size: tuple[float, float] = (0.2, 0.6)  # mean burst size as a fraction of window n
    burst_cohesion: float = 0.7  # share of a burst's articles that take the burst's label
    # realistic setting (all off = the clean setting)
    copy_bursts_per_day: float = 0.0
    copy_size: tuple[int, int] = (4, 10)
    copy_spread_min: int = 10
    weekend_factor: float = 1.0
    confusion: tuple[tuple[float, float, float], ...] | None = None  # rows true neg/neu/pos


def _kinds(cfg: SimulationConfig) -> list[str]:
    n_stat = round(cfg.n_keys * cfg.stationary_fraction)
    n_sparse = round(cfg.n_keys * cfg.sparse_fraction)
    n_spiky = max(cfg.n_keys - n_stat - n_sparse, 0)
    return ["spiky"] * n_spiky + ["stationary"] * n_stat + ["sparse"] * n_sparse


def simulate(cfg: SimulationConfig) -> list[SimulatedKey]:
    """Generate ``cfg.n_keys`` streams; deterministic for a given config (seeded)."""
    total_min = round((cfg.history_days + cfg.days) * MINUTES_PER_DAY)
    index = pd.date_range(cfg.start, periods=total_min, freq="min", name="bucket_start")
    out: list[SimulatedKey] = []
    for i, kind in enumerate(_kinds(cfg)):
        key = f"{'entity' if kind == 'sparse' else 'topic'}:sim{i:03d}"
        # one generator per key, and another for the realistic effects, so the clean and the
        # realistic setting of one seed plant the same episodes in the same keys
        rng = np.random.default_rng([cfg.seed, i])
        out.append(_one_key(cfg, rng, np.random.default_rng([cfg.seed, i, 1]), key, kind, index))
    return out


def _one_key(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    effects: np.random.Generator,
    key: str,
    kind: str,
    index: pd.DatetimeIndex,
) -> SimulatedKey:
    total = len(index)
    w = cfg.window_min
    lo, hi = cfg.sparse_window_n if kind == "sparse" else cfg.window_n
    rate = float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) / w
    share = float(rng.uniform(*cfg.share))
    minute = np.arange(total)
    hour = (minute % MINUTES_PER_DAY) / 60.0
    amp = rng.uniform(0.3, 0.8)
    peak = rng.uniform(12.0, 16.0)
    lam = rate * (1.0 + amp * np.cos(2 * np.pi * (hour - peak) / 24.0))
    p = np.clip(share * (1.0 + 0.15 * np.cos(2 * np.pi * (hour - rng.uniform(0, 24)) / 24.0)), 0, 1)

    spikes: list[tuple[int, int, float, float]] = []
    if kind == "spiky":
        spikes = _place_spikes(cfg, rng, total)
        for s, e, factor, vol in spikes:
            lam[s:e] = np.maximum(lam[s:e] * vol, cfg.min_spike_window_n / w)
            p[s:e] = min(0.95, share * factor)

    n = rng.poisson(lam)
    neg = rng.binomial(n, p)
    _add_bursts(cfg, rng, n, neg, share, lam * w)
    if cfg.weekend_factor != 1.0:  # thin weekend minutes (a separate generator: see above)
        f = np.where(index.day_of_week.to_numpy() >= 5, min(cfg.weekend_factor, 1.0), 1.0)
        kept_neg = effects.binomial(neg, f)
        n = kept_neg + effects.binomial(n - neg, f)
        neg = kept_neg

    pos_frac = rng.uniform(0.3, 0.6)
    pos = rng.binomial(n - neg, pos_frac)
    neu = n - neg - pos
    true_n, true_neg = n.copy(), neg.copy()  # planted episodes are defined on these
    true_counts = np.stack([neg, neu, pos])
    if cfg.confusion is not None:
        true_counts = _observe(true_counts, np.asarray(cfg.confusion, dtype=float), effects)
    if cfg.copy_bursts_per_day:
        _add_copies(cfg, effects, true_counts, share, pos_frac)
    neg, neu, pos = true_counts
    n = neg + neu + pos
    score = (pos - neg) * 0.8 + rng.normal(0.0, 0.05, total) * np.sqrt(n)
    frame = pd.DataFrame(
        {"n": n, "n_neg": neg, "n_neu": neu, "n_pos": pos, "score_sum": score}, index=index
    )
    planted = tuple(
        PlantedSpike(
            key=key,
            start=index[s],
            end=index[s] + pd.Timedelta(minutes=e - s),
            factor=factor,
            base_share=share,
            spike_share=min(0.95, share * factor),
            window_n=float(true_n[s:e].sum()) * w / (e - s),
            realized_share=float(true_neg[s:e].sum()) / max(int(true_n[s:e].sum()), 1),
        )
        for s, e, factor, _ in spikes
    )
    return SimulatedKey(key, kind, share, rate, frame, planted)


def _place_spikes(
    cfg: SimulationConfig, rng: np.random.Generator, total: int
) -> list[tuple[int, int, float, float]]:
    """Non-overlapping spikes in the evaluated part, ``min_gap_hours`` apart."""
    first = int(cfg.history_days * MINUTES_PER_DAY) + 2 * cfg.window_min
    count = max(1, int(rng.poisson(cfg.spikes_per_key_day * cfg.days)))
    gap = int(cfg.min_gap_hours * 60)
    placed: list[tuple[int, int, float, float]] = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        length = int(rng.integers(cfg.spike_minutes[0], cfg.spike_minutes[1] + 1))
        if total - length - cfg.window_min <= first:
            break
        s = int(rng.integers(first, total - length - cfg.window_min))
        e = s + length
        if all(e + gap <= ps or s >= pe + gap for ps, pe, _, _ in placed):
            factor = float(rng.uniform(*cfg.spike_factor))
            placed.append((s, e, factor, float(rng.uniform(*cfg.spike_volume))))
    return sorted(placed)


def _add_bursts(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    n: np.ndarray,
    neg: np.ndarray,
    share: float,
    window_n: np.ndarray,
) -> None:
    """Clusters of same-label articles (one story, many outlets), added in place."""
    total = len(n)
    count = int(rng.poisson(cfg.bursts_per_day * total / MINUTES_PER_DAY))
    for _ in range(count):
        spread = int(rng.integers(1, 11))
        start = int(rng.integers(0, max(total - spread, 1)))
        size = 1 + int(rng.poisson(window_n[start] * rng.uniform(*cfg.burst_size)))
        negative = rng.random() < share
        p_neg = cfg.burst_cohesion * float(negative) + (1 - cfg.burst_cohesion) * share
        minutes = rng.integers(start, start + spread, size)
        labels = rng.random(size) < p_neg
        np.add.at(n, minutes, 1)
        np.add.at(neg, minutes[labels], 1)


def _observe(counts: np.ndarray, confusion: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-minute true (neg, neu, pos) counts → the counts a classifier with ``confusion`` gives."""
    rows = confusion / confusion.sum(axis=1, keepdims=True)
    out = np.zeros_like(counts)
    for c in range(3):
        left = counts[c].copy()
        rest = 1.0
        for o in range(2):
            p = min(max(rows[c, o] / rest, 0.0), 1.0) if rest > 1e-12 else 0.0
            drawn = rng.binomial(left, p)
            out[o] += drawn
            left -= drawn
            rest -= rows[c, o]
        out[2] += left
    return out


def _add_copies(
    cfg: SimulationConfig,
    rng: np.random.Generator,
    counts: np.ndarray,
    share: float,
    pos_frac: float,
) -> None:
    """Syndication: a story as 4–10 identical copies within minutes, one label for all of them
    (drawn through the confusion matrix once, when there is one). Added in place."""
    total = counts.shape[1]
    count = int(rng.poisson(cfg.copy_bursts_per_day * total / MINUTES_PER_DAY))
    rows = None
    if cfg.confusion is not None:
        m = np.asarray(cfg.confusion, dtype=float)
        rows = m / m.sum(axis=1, keepdims=True)
    true_p = np.array([share, (1 - share) * (1 - pos_frac), (1 - share) * pos_frac])
    for _ in range(count):
        size = int(rng.integers(cfg.copy_size[0], cfg.copy_size[1] + 1))
        start = int(rng.integers(0, max(total - cfg.copy_spread_min, 1)))
        label = int(rng.choice(3, p=true_p))
        if rows is not None:
            label = int(rng.choice(3, p=rows[label]))
        minutes = rng.integers(start, start + cfg.copy_spread_min, size)
        np.add.at(counts[label], minutes, 1)
