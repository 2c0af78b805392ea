"""``finsentry bench alerts``: does the detector find planted spikes, and does it cry wolf?

It generates streams (:mod:`alerts.simulate`), then replays every key minute by minute exactly as
the live scheduler would (:func:`alerts.detect.replay`: each tick sees only the minutes before its
window end, open and past alerts are excluded from the baseline, an alert resolves after K normal
ticks, and the share test is Bonferroni-corrected over the keys tested at that tick). Episodes
are matched to planted spikes: an episode that is active while a spike can influence the window
(from the spike's start to its end plus one window) detects it; one that matches no spike is a
false alarm. The result is one JSON-ready dict; :func:`main` prints progress and then that dict
as the last line.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from alerts.config import AlertSettings
from alerts.detect import keys_tested_per_tick
from alerts.replay import Episode, replay
from alerts.simulate import PlantedSpike, SimulatedKey, SimulationConfig, simulate

MINUTE = pd.Timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SpikeOutcome:
    spike: PlantedSpike
    detected: bool
    delay_min: float | None


def _match(
    sim: SimulatedKey, episodes: list[Episode], window: pd.Timedelta
) -> tuple[list[SpikeOutcome], int]:
    """Outcomes of the key's planted spikes and its number of false alarms."""
    matched = [False] * len(episodes)
    outcomes = []
    for spike in sim.spikes:
        first: pd.Timestamp | None = None
        for i, ep in enumerate(episodes):
            if ep.first_fired <= spike.end + window and ep.last_abnormal >= spike.start:
                matched[i] = True
                start = max(ep.first_fired, spike.start)
                first = start if first is None else min(first, start)
        delay = None if first is None else (first - spike.start) / MINUTE
        outcomes.append(SpikeOutcome(spike, first is not None, delay))
    return outcomes, matched.count(False)


def _bucket(outcomes: list[SpikeOutcome], edges: list[float], attr: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lo, hi in itertools.pairwise(edges):
        sel = [o for o in outcomes if lo <= float(getattr(o.spike, attr)) < hi]
        delays = [o.delay_min for o in sel if o.delay_min is not None]
        out[f"{lo:g}-{hi:g}"] = {
            "spikes": len(sel),
            "recall": round(sum(o.detected for o in sel) / len(sel), 4) if sel else None,
            "median_delay_min": float(np.median(delays)) if delays else None,
        }
    return out


def run_bench(
    cfg: SimulationConfig,
    settings: AlertSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Simulate, replay as if live, score. Returns the JSON-ready result."""
    settings = settings or AlertSettings()
    say = progress or (lambda _m: None)
    t_start = time.perf_counter()
    keys = simulate(cfg)
    eval_start = cfg.start + pd.Timedelta(days=cfg.history_days)
    horizon = keys[0].frame.index[-1] + MINUTE
    ticks = pd.date_range(eval_start + MINUTE, horizon, freq="min")
    say(
        f"simulated {len(keys)} keys x {cfg.history_days:g}+{cfg.days:g} days, "
        f"{sum(len(k.spikes) for k in keys)} planted spikes, {len(ticks)} ticks per key"
    )
    n_tests = keys_tested_per_tick([k.frame for k in keys], ticks, settings.detector)
    window = settings.detector.window_min * MINUTE
    outcomes: list[SpikeOutcome] = []
    false_by_kind: dict[str, int] = {}
    keys_by_kind: dict[str, int] = {}
    n_episodes = 0
    for i, sim in enumerate(keys, 1):
        _, episodes = replay(
            sim.frame,
            ticks,
            settings=settings.detector,
            resolve_after=settings.resolve_after_windows,
            key=sim.key,
            n_tests=n_tests,
            history_start=cfg.start,
        )
        got, false = _match(sim, episodes, window)
        outcomes += got
        n_episodes += len(episodes)
        false_by_kind[sim.kind] = false_by_kind.get(sim.kind, 0) + false
        keys_by_kind[sim.kind] = keys_by_kind.get(sim.kind, 0) + 1
        say(
            f"[{i}/{len(keys)}] {sim.key} {sim.kind}: {len(episodes)} episodes, "
            f"{sum(o.detected for o in got)}/{len(got)} spikes found, {false} false alarms "
            f"({time.perf_counter() - t_start:.1f}s)"
        )

    delays = [o.delay_min for o in outcomes if o.delay_min is not None]
    # The spikes whose random draw really doubled the share with >= 20 articles per window.
    doubled = [
        o
        for o in outcomes
        if o.spike.realized_share >= 2 * o.spike.base_share and o.spike.window_n >= 20
    ]
    n_false = sum(false_by_kind.values())
    key_days = len(keys) * cfg.days
    result: dict[str, Any] = {
        "recall": _ratio(sum(o.detected for o in outcomes), len(outcomes)),
        "recall_realized_2x": _ratio(sum(o.detected for o in doubled), len(doubled)),
        "spikes_realized_2x": len(doubled),
        "precision": _ratio(n_episodes - n_false, n_episodes),
        "median_delay_min": float(np.median(delays)) if delays else None,
        "p90_delay_min": float(np.percentile(delays, 90)) if delays else None,
        "false_alarms_per_key_day": round(n_false / key_days, 4) if key_days else None,
        "false_alarms": n_false,
        "false_alarms_per_key_day_by_kind": {
            k: round(false_by_kind[k] / (keys_by_kind[k] * cfg.days), 4) for k in keys_by_kind
        },
        "spikes": len(outcomes),
        # more than 1.0 means some spikes were split into several alerts
        "episodes_per_detected_spike": _ratio(
            n_episodes - n_false, sum(o.detected for o in outcomes)
        ),
        "episodes": n_episodes,
        "by_factor": _bucket(outcomes, [2.0, 2.5, 3.0, 4.01], "factor"),
        "by_minutes": _bucket(outcomes, [30, 60, 120, 181], "minutes"),
        "by_window_n": _bucket(outcomes, [0, 40, 80, 160, math.inf], "window_n"),
        "mean_keys_tested": round(float(n_tests.mean()), 2),
        "params": {
            "keys": cfg.n_keys,
            "days": cfg.days,
            "history_days": cfg.history_days,
            "seed": cfg.seed,
            "detector": settings.detector.model_dump(),
            "resolve_after_windows": settings.resolve_after_windows,
        },
        "runtime_s": round(time.perf_counter() - t_start, 2),
    }
    return result


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


HEADLINE = ("recall", "precision", "median_delay_min", "false_alarms_per_key_day")


def main(
    n_keys: int = 40,
    days: float = 7.0,
    seed: int = 0,
    settings: AlertSettings | None = None,
    history_days: float = 7.0,
    confusion: tuple[tuple[float, float, float], ...] | None = None,
    copy_bursts_per_day: float = 3.0,
    weekend_factor: float = 0.35,
) -> dict[str, Any]:
    """Run the bench in both settings — *realistic* (classifier confusion, syndicated copies,
    weekends) and *clean* (none of them) — with progress lines on stdout and one JSON line
    last: ``{"realistic": {...}, "clean": {...}}``, each with the headline figures first."""
    clean_cfg = SimulationConfig(n_keys=n_keys, days=days, seed=seed, history_days=history_days)
    real_cfg = replace(
        clean_cfg,
        confusion=confusion,
        copy_bursts_per_day=copy_bursts_per_day,
        weekend_factor=weekend_factor,
    )
    out: dict[str, Any] = {}
    for name, cfg in (("realistic", real_cfg), ("clean", clean_cfg)):
        print(f"-- {name} setting", flush=True)
        result = run_bench(cfg, settings, progress=lambda m: print(m, flush=True))
        result["params"]["realistic"] = {
            "confusion": [list(r) for r in cfg.confusion] if cfg.confusion else None,
            "copy_bursts_per_day": cfg.copy_bursts_per_day,
            "copy_size": list(cfg.copy_size),
            "weekend_factor": cfg.weekend_factor,
        }
        out[name] = {k: result[k] for k in HEADLINE} | result
    print(json.dumps(out), flush=True)
    return out
