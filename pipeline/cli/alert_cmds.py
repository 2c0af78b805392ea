"""Alert commands. For now the detection benchmark: ``finsentry bench alerts``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    p = cli.add_bench(
        "alerts",
        _bench,
        "spike detection on synthetic streams with planted spikes: recall, precision, "
        "delay, false alarms per key per day (JSON last line)",
    )
    p.add_argument("--keys", type=int, default=40, help="number of series keys (default 40)")
    p.add_argument("--days", type=float, default=7.0, help="simulated days evaluated (default 7)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--history-days",
        type=float,
        default=None,
        help="history before the evaluated days (default: the detector's baseline_days)",
    )


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.bench import main
    from alerts.config import AlertSettings

    if args.keys < 1:
        raise ConfigError("--keys must be at least 1")
    if args.days <= 0:
        raise ConfigError("--days must be positive")
    alerts = getattr(settings, "alerts", None)
    if not isinstance(alerts, AlertSettings):
        alerts = AlertSettings()
    history = alerts.detector.baseline_days if args.history_days is None else args.history_days
    if history < 0:
        raise ConfigError("--history-days must not be negative")
    main(args.keys, args.days, args.seed, settings=alerts, history_days=history)
    return 0
