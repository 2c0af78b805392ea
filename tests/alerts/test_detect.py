"""The detector on hand-built series: it fires on a real rise, and stays quiet where it should."""

from __future__ import annotations

import json
from datetime import timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alerts.config import AlertSettings, DetectorSettings
from alerts.detect import (
    Detector,
    Reason,
    closed_window,
    detect_series,
    is_normal,
    keys_tested_per_tick,
)
from alerts.replay import replay
from pipeline.errors import AlertError
from tests.alerts.synth import MIN, T0, plant, stream

END = T0 + pd.Timedelta(days=8)  # one past the last minute of the `week` fixture


def test_planted_spike_fires(week: pd.DataFrame) -> None:
    frame = plant(week, END - 40 * MIN, 40, share=0.6)
    d = Detector().evaluate(frame, END, key="topic:test", n_tests=20)
    assert d.is_spike, d
    assert d.reason is Reason.SPIKE
    assert d.key == "topic:test"
    assert d.lift >= 2.5
    assert d.p_share < d.alpha == pytest.approx(0.01 / 20)
    assert d.long_p_share < d.alpha
    assert 0.18 < d.baseline_share < 0.22
    assert d.n_tests == 20
    assert not is_normal(d, DetectorSettings())
    json.dumps(d.as_dict())  # evidence is JSON-ready


def test_stationary_stream_does_not_fire(week: pd.DataFrame) -> None:
    ticks = pd.date_range(END - pd.Timedelta(days=1), END, freq="min")
    table, episodes = replay(week, ticks, n_tests=20)
    assert episodes == []
    assert not table["is_spike"].any()
    assert table["normal"].mean() > 0.95


def test_count_guard_needs_more_negatives_not_just_fewer_others(week: pd.DataFrame) -> None:
    # The share doubles because the neutral and positive articles vanish: negatives stay at
    # their usual rate, so the count guard holds the alert back.
    frame = week.copy()
    sel = frame.index >= END - 40 * MIN
    frame.loc[sel, "n"] = frame.loc[sel, "n_neg"] * 2
    d = Detector().evaluate(frame, END)
    assert not d.is_spike
    assert d.p_count > DetectorSettings().count_alpha


def test_low_volume_does_not_fire(week: pd.DataFrame) -> None:
    frame = week.copy()
    sel = frame.index >= END - 15 * MIN
    frame.loc[sel, ["n", "n_neg"]] = 0
    frame.loc[END - 5 * MIN, ["n", "n_neg"]] = 12  # 12 articles, all negative
    d = Detector().evaluate(frame, END)
    assert (d.n, d.n_neg) == (12, 12)
    assert not d.is_spike
    assert d.reason is Reason.LOW_VOLUME
    assert np.isnan(d.p_share)  # windows below min_n are not tested
    assert is_normal(d, DetectorSettings())


def test_tiny_key_never_fires() -> None:
    frame = stream(8.0, rate=0.2, share=0.2, seed=3)
    frame = plant(frame, END - 30 * MIN, 30, share=1.0)
    ticks = pd.date_range(END - pd.Timedelta(days=1), END, freq="min")
    table = detect_series(frame, ticks)
    assert not table["is_spike"].any()


def test_short_history_does_not_storm() -> None:
    # A key first seen six hours ago, whose latest 40 minutes are 90 % negative.
    start = END - pd.Timedelta(hours=6)
    frame = plant(stream(0.25, start=start), END - 40 * MIN, 40, share=0.9)
    d = Detector().evaluate(frame, END)
    assert not d.is_spike
    assert d.reason is Reason.INSUFFICIENT_HISTORY
    ticks = pd.date_range(start, END, freq="min")
    assert not detect_series(frame, ticks)["is_spike"].any()
    # Same data, but the store says the key has been quiet (not unknown) for a week: it fires.
    d = Detector().evaluate(frame, END, history_start=END - pd.Timedelta(days=7))
    assert d.reason is not Reason.INSUFFICIENT_HISTORY


def test_excluded_periods_are_left_out_of_the_baseline(week: pd.DataFrame) -> None:
    bad_start = T0 + pd.Timedelta(days=3)
    frame = plant(week, bad_start, 600, share=0.9)
    det = Detector(DetectorSettings(clean_baseline_alpha=0))  # explicit exclusion only
    plain = det.evaluate(frame, END)
    period = (bad_start.to_pydatetime(), (bad_start + 600 * MIN).to_pydatetime())
    excluded = det.evaluate(frame, END, exclude=[period])
    assert plain.baseline_share > 0.235  # ten hours at 90 % drag the baseline up
    assert excluded.baseline_share == pytest.approx(0.2, abs=0.01)
    assert plain.baseline_minutes - excluded.baseline_minutes == 600
    # The bad period also inflated the over-dispersion estimate.
    assert excluded.rho < plain.rho
    # An open period (ongoing alert) excludes everything from its start.
    ongoing = det.evaluate(frame, END, exclude=[(bad_start.to_pydatetime(), None)])
    assert ongoing.baseline_minutes == (bad_start - (END - 15 * MIN - pd.Timedelta(days=7))) / MIN


def test_a_missed_episode_leaves_the_baseline_by_itself(week: pd.DataFrame) -> None:
    # Ten hours at 90 % negative three days ago that no alert recorded (say the detector was
    # down): the clean baseline leaves it out anyway, so a later, milder episode still fires.
    bad_start = T0 + pd.Timedelta(days=3)
    frame = plant(week, bad_start, 600, share=0.9)
    frame = plant(frame, END - 40 * MIN, 40, share=0.5)
    raw = Detector(DetectorSettings(clean_baseline_alpha=0)).evaluate(frame, END, n_tests=20)
    clean = Detector().evaluate(frame, END, n_tests=20)
    assert raw.baseline_share > 0.235 and clean.baseline_share == pytest.approx(0.2, abs=0.012)
    assert clean.rho < raw.rho / 10  # the missed episode had blown up the over-dispersion
    assert clean.is_spike, clean
    assert not raw.is_spike  # without the clean baseline the key was blind to it


def test_window_is_the_latest_closed_one_in_utc(week: pd.DataFrame) -> None:
    now = END + pd.Timedelta(seconds=30)  # mid-minute: the minute that just began is open
    frame = week.copy()
    frame.loc[END] = [500, 500, 0, 0, 0.0]  # the open minute: must not count
    start, end = closed_window(now, DetectorSettings())
    assert (start, end) == (END - 15 * MIN, END)
    d = Detector().evaluate(frame, now)
    assert d.window_start == END - 15 * MIN and d.window_end == END
    assert d.n == int(week.loc[END - 15 * MIN :, "n"].sum())
    assert str(d.window_end.tz) == "UTC"
    # The same instant in another zone gives the same window.
    paris = now.tz_convert(timezone(timedelta(hours=1)))
    assert Detector().evaluate(frame, paris).window_end == END
    # A minute boundary exactly: the minute that ended at `now` is closed and counts.
    assert Detector().evaluate(frame, END + MIN).n == d.n - int(week["n"].iloc[-15]) + 500
    # settle_min waits for late articles.
    late = Detector(DetectorSettings(settle_min=2)).evaluate(frame, now)
    assert late.window_end == END - 2 * MIN


def test_naive_times_are_refused(week: pd.DataFrame) -> None:
    with pytest.raises(AlertError, match="timezone"):
        Detector().evaluate(week, END.tz_localize(None).to_pydatetime())
    with pytest.raises(AlertError, match="timezone"):
        Detector().evaluate(week.tz_localize(None), END)
    with pytest.raises(AlertError, match="n_neg"):
        Detector().evaluate(week[["n"]], END)


def test_store_shaped_frame_with_gaps_and_a_column_index(week: pd.DataFrame) -> None:
    # The store returns only minutes that had articles, with bucket_start as a column.
    sparse = week[week["n"] > 0].reset_index()
    a = Detector().evaluate(sparse, END)
    b = Detector().evaluate(week, END)
    assert a == b


def test_no_look_ahead_and_series_matches_single_evaluation(week: pd.DataFrame) -> None:
    frame = plant(week, END - 60 * MIN, 60, share=0.6)
    now = END - 20 * MIN
    future_changed = frame.copy()
    future_changed.loc[future_changed.index >= now, "n_neg"] = 0
    det = Detector()
    assert det.evaluate(frame, now) == det.evaluate(future_changed, now)
    ticks = pd.date_range(END - 60 * MIN, END, freq="min")
    table = detect_series(frame, ticks, n_tests=7)
    for t in (ticks[0], ticks[30], ticks[-1]):
        single = det.evaluate(frame, t, n_tests=7)
        row = table.loc[t]
        assert single.is_spike == row["is_spike"]
        assert single.n == row["n"] and single.p_share == pytest.approx(row["p_share"], nan_ok=True)


def test_replay_makes_one_episode_per_spike_and_resolves(week: pd.DataFrame) -> None:
    spike_start = END - 200 * MIN
    frame = plant(week, spike_start, 90, share=0.6)
    ticks = pd.date_range(END - 300 * MIN, END, freq="min")
    table, episodes = replay(frame, ticks, resolve_after=5, key="k", n_tests=20)
    assert len(episodes) == 1
    ep = episodes[0]
    assert spike_start < ep.first_fired <= spike_start + 20 * MIN
    assert ep.resolved is not None and ep.resolved <= spike_start + 90 * MIN + 30 * MIN
    assert ep.period_start == ep.first_fired - 15 * MIN
    assert ep.ticks_firing > 30
    assert len(table) == len(ticks) and table.index.is_monotonic_increasing
    # During the episode the open alert is kept out of the baseline: the share stays put.
    during = table.loc[ep.first_fired : ep.last_abnormal, "baseline_share"]
    assert during.max() - during.min() < 0.005


def test_evaluate_many_corrects_over_tested_keys(week: pd.DataFrame) -> None:
    quiet = stream(8.0, rate=0.1, seed=5)
    frames = {"all": week, "topic:a": week, "entity:tiny": quiet}
    out = Detector().evaluate_many(frames, END)
    assert set(out) == set(frames)
    assert out["all"].n_tests == 2  # the tiny key is below min_n, so it is not tested
    assert out["all"].alpha == pytest.approx(0.005)


def test_tests_per_tick_counts_keys_with_volume(week: pd.DataFrame) -> None:
    quiet = stream(8.0, rate=0.1, seed=5)
    ticks = pd.date_range(END - 5 * MIN, END, freq="min")
    assert keys_tested_per_tick([week, week.reset_index(), quiet], ticks).tolist() == [2] * 6
    assert keys_tested_per_tick([quiet], ticks).tolist() == [1] * 6  # never below one
    assert Detector().lookback == pd.Timedelta(days=7, minutes=31)


def test_settings_are_frozen_and_validated() -> None:
    s = AlertSettings()
    assert s.detector.window_min == 15 and s.detector.baseline_days == 7
    with pytest.raises(ValidationError):
        s.detector.alpha = 0.5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DetectorSettings(unknown=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        DetectorSettings(resolve_lift=3.0, min_lift=1.5)
    with pytest.raises(ValidationError):
        DetectorSettings(confirm_window_min=10)
    assert AlertSettings.model_validate({"detector": {"alpha": 0.05}}).detector.alpha == 0.05
