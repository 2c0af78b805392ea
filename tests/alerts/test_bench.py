"""The benchmark harness on a tiny configuration: shape of its output, not its figures."""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from alerts.bench import run_bench
from alerts.config import AlertSettings, DetectorSettings
from alerts.simulate import SimulationConfig, simulate
from pipeline.cli import CliRegistry, alert_cmds, build_parser
from pipeline.errors import ConfigError
from pipeline.settings import Settings

TINY = SimulationConfig(n_keys=4, days=0.5, history_days=1.5, seed=3, spikes_per_key_day=2.0)
PROGRESS = re.compile(
    r"(?P<episodes>\d+) episodes, \d+/\d+ spikes found, (?P<false>\d+) false alarms"
)
KEYS = ("recall", "precision", "median_delay_min", "false_alarms_per_key_day", "params")


def test_simulation_is_store_shaped_and_reproducible() -> None:
    a, b = simulate(TINY), simulate(TINY)
    assert [k.key for k in a] == [k.key for k in b]
    frame = a[0].frame
    assert list(frame.columns) == ["n", "n_neg", "n_neu", "n_pos", "score_sum"]
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index.name == "bucket_start"
    assert (frame["n_neg"] + frame["n_neu"] + frame["n_pos"] == frame["n"]).all()
    pd.testing.assert_frame_equal(frame, b[0].frame)
    spiky = [k for k in a if k.kind == "spiky"]
    assert spiky and all(k.spikes for k in spiky)
    evaluated_from = TINY.start + pd.Timedelta(days=TINY.history_days)
    for k in spiky:
        for s in k.spikes:
            assert s.start >= evaluated_from and 30 <= s.minutes <= 180
            assert s.factor >= 2
            assert s.spike_share == pytest.approx(min(0.95, s.factor * s.base_share))
    assert {k.kind for k in a} <= {"spiky", "stationary", "sparse"}


def test_bench_reports_the_agreed_keys() -> None:
    lines: list[str] = []
    result = run_bench(TINY, AlertSettings(), progress=lines.append)
    for key in KEYS:
        assert key in result
    assert result["params"]["keys"] == 4
    assert result["spikes"] > 0
    detected = result["recall"] * result["spikes"]
    assert 0.0 <= result["recall"] <= 1.0 and detected == pytest.approx(round(detected))
    assert result["false_alarms"] == round(result["false_alarms_per_key_day"] * 4 * TINY.days)
    assert len(lines) == 1 + TINY.n_keys
    # the totals are the sums of what each key reported, and every episode that is not a false
    # alarm belongs to a detected spike
    per_key = [PROGRESS.search(line) for line in lines[1:]]
    assert all(per_key), lines
    assert sum(int(m["false"]) for m in per_key if m) == result["false_alarms"]
    assert sum(int(m["episodes"]) for m in per_key if m) == result["episodes"]
    assert result["false_alarms"] <= result["episodes"]
    assert result["episodes"] - result["false_alarms"] >= round(detected)
    json.dumps(result)


# a detector that fires on any rise at all: on a stream without spikes, all it says is noise
HAIR_TRIGGER = AlertSettings(
    detector=DetectorSettings(
        alpha=0.9,
        count_alpha=0.9,
        min_lift=1.0,
        resolve_lift=1.0,
        min_share_increase=0.0,
        min_n=1,
        min_neg=1,
        min_history_hours=0,
        min_baseline_n=1,
        confirm_window_min=0,
        clean_baseline_alpha=0,
    ),
    resolve_after_windows=1,
)


def test_false_alarms_are_counted_where_there_is_nothing_to_find() -> None:
    quiet = replace(TINY, stationary_fraction=1.0, sparse_fraction=0.0)  # no spikes at all
    result = run_bench(quiet, HAIR_TRIGGER)
    assert result["spikes"] == 0
    assert result["episodes"] > 0  # the hair trigger fired on noise …
    assert result["false_alarms"] == result["episodes"]  # … and every firing is counted false
    assert result["precision"] == 0.0
    default = run_bench(quiet, AlertSettings())
    assert default["false_alarms"] < result["false_alarms"]


def _cli(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench").add_subparsers(dest="bench_command")
    alert_cmds.register(
        CliRegistry(commands=commands, bench=bench, common=argparse.ArgumentParser(add_help=False))
    )
    return parser.parse_args(argv)


def test_cli_prints_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    # the real command line routes `finsentry bench alerts` to the same handler
    real = build_parser().parse_args(["bench", "alerts", "--keys", "3"])
    assert real.func is _cli(["bench", "alerts"]).func
    args = _cli(["bench", "alerts", "--keys", "3", "--days", "0.25", "--history-days", "1.5"])
    assert args.func(args, Settings()) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) > 1  # progress first
    both = json.loads(lines[-1])
    assert set(both) == {"realistic", "clean"}
    for result in both.values():
        for key in KEYS:
            assert key in result
        assert result["params"]["days"] == 0.25
        assert np.isfinite(result["runtime_s"])
    realistic = both["realistic"]["params"]["realistic"]
    assert realistic["copy_bursts_per_day"] == 3.0 and len(realistic["confusion"]) == 3
    assert both["clean"]["params"]["realistic"]["confusion"] is None


def test_realistic_setting_adds_copies_and_classifier_error() -> None:
    confusion = ((0.7, 0.2, 0.1), (0.1, 0.8, 0.1), (0.05, 0.15, 0.8))
    clean = simulate(TINY)
    real = simulate(replace(TINY, confusion=confusion, copy_bursts_per_day=6.0))
    for c, r in zip(clean, real, strict=True):
        assert c.spikes == r.spikes  # episodes are planted on the true labels
        assert r.frame["n"].sum() > c.frame["n"].sum()  # syndicated copies added
        assert (r.frame["n_neg"] + r.frame["n_neu"] + r.frame["n_pos"] == r.frame["n"]).all()
    # the classifier's false negatives dilute the negative share of a spiky key
    spiky_c = next(k for k in clean if k.kind == "spiky")
    spiky_r = next(k for k in real if k.kind == "spiky")
    share_c = spiky_c.frame["n_neg"].sum() / spiky_c.frame["n"].sum()
    share_r = spiky_r.frame["n_neg"].sum() / spiky_r.frame["n"].sum()
    assert share_r != pytest.approx(share_c, abs=1e-3)


def test_confusion_flag_reads_a_metrics_file(tmp_path: object) -> None:
    from pathlib import Path

    m = Path(str(tmp_path)) / "metrics.json"
    m.write_text(json.dumps({"confusion_matrix": {"matrix": [[8, 1, 1], [1, 8, 1], [0, 1, 9]]}}))
    assert alert_cmds.load_confusion(str(m))[2] == (0.0, 1.0, 9.0)
    assert len(alert_cmds.load_confusion(None)) == 3  # the shipped model card's matrix
    with pytest.raises(ConfigError):
        alert_cmds.load_confusion("[[1, 2], [3, 4]]")


def test_cli_rejects_bad_flags() -> None:
    args = _cli(["bench", "alerts", "--keys", "0"])
    with pytest.raises(ConfigError):
        args.func(args, Settings())


def test_e2e_stream_is_built_from_blind_sentences_with_planted_episodes() -> None:
    from collections import Counter
    from datetime import UTC, datetime

    from pipeline.bench_e2e import build_stream

    end = datetime(2026, 12, 1, tzinfo=UTC)
    messages, planted, truth = build_stream(3, 2.0, 1.0, seed=1, end=end)
    assert planted and all(p.start >= end - pd.Timedelta(days=1) for p in planted)
    assert all(30 <= (p.end - p.start).total_seconds() / 60 <= 180 for p in planted)
    assert len(truth) == len(messages) and set(truth.values()) <= {
        "negative",
        "neutral",
        "positive",
    }
    times = [m["published_at"] for m in messages]
    assert times == sorted(times)
    # within a key, a text repeats only as a syndicated copy burst (4-10 copies)
    per_key = Counter((m["tickers"][0], m["title"]) for m in messages)
    assert max(per_key.values()) <= 10
    assert any(c >= 4 for c in per_key.values())
