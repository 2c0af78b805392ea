"""Alert commands: the detection benchmark ``finsentry bench alerts`` (realistic and clean)."""

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
    p.add_argument(
        "--confusion",
        metavar="JSON|FILE",
        help="3x3 confusion matrix (rows true neg/neu/pos) for the realistic setting, as JSON or "
        "a metrics.json; default: the shipped model card's blind-set matrix",
    )
    p.add_argument("--copies-per-day", type=float, default=3.0, help="syndication bursts per key")
    p.add_argument(
        "--e2e",
        action="store_true",
        help="end to end instead: blind-set sentences through the broker, the daemon with the "
        "default model and the store, then the backtest (minutes)",
    )
    p.add_argument("--e2e-keys", type=int, default=6, help="entities in the --e2e stream")
    p.add_argument("--e2e-days", type=float, default=3.0, help="days in the --e2e stream")
    p.add_argument("--weekend", type=float, default=0.35, help="weekend volume factor")


def load_confusion(spec: str | None) -> tuple[tuple[float, float, float], ...]:
    """A 3x3 matrix from JSON text, a JSON file, or a metrics.json (default: the shipped one)."""
    import json
    from pathlib import Path

    from models.registry import DEFAULT_MODEL_DIR

    if spec is None:
        spec = str(DEFAULT_MODEL_DIR / "metrics.json")
    try:
        raw = (
            json.loads(Path(spec).read_text(encoding="utf-8"))
            if Path(spec).is_file()
            else (json.loads(spec))
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--confusion: neither a JSON matrix nor a readable file: {exc}") from exc
    if isinstance(raw, dict):
        raw = raw.get("confusion_matrix", {}).get("matrix")
    try:
        rows = tuple(tuple(float(v) for v in row) for row in raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError("--confusion must be a 3x3 matrix of numbers") from exc
    if len(rows) != 3 or any(len(r) != 3 or min(r) < 0 or sum(r) <= 0 for r in rows):
        raise ConfigError("--confusion must be a 3x3 matrix of non-negative rows")
    return rows  # type: ignore[return-value]


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.bench import main
    from alerts.config import AlertSettings

    if args.e2e:
        import json

        from pipeline.bench_e2e import run

        if args.e2e_keys < 1 or args.e2e_days < 2:
            raise ConfigError("--e2e-keys must be >= 1 and --e2e-days >= 2")
        result = run(args.e2e_keys, args.e2e_days, seed=args.seed)
        print(json.dumps(result), flush=True)
        return 0
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
    if args.copies_per_day < 0 or args.weekend <= 0:
        raise ConfigError("--copies-per-day must be >= 0 and --weekend > 0")
    main(
        args.keys,
        args.days,
        args.seed,
        settings=alerts,
        history_days=history,
        confusion=load_confusion(args.confusion),
        copy_bursts_per_day=args.copies_per_day,
        weekend_factor=args.weekend,
    )
    return 0
