"""``finsentry plot``: a series key as a PNG (shares, volume, alert periods)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    p = cli.add(
        "plot",
        cmd_plot,
        "draw a series key as a PNG: sentiment shares, volume and alert periods",
    )
    p.add_argument("--key", default="all", help="series key: all, source:X, topic:X, entity:X")
    p.add_argument("--since", default="7d", help="24h, 7d or an ISO time (default 7d)")
    p.add_argument("--until", default=None, help="ISO time or duration ago (default now)")
    p.add_argument("--every", default="1h", help="bucket size: 5m, 1h, 1d (default 1h)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.png", help="where to write")


def cmd_plot(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.plot import plot
    from pipeline.store import open_current
    from pipeline.timeparse import pandas_freq, parse_instant

    now = datetime.now(UTC)
    since = parse_instant(args.since, now)
    until = parse_instant(args.until, now) if args.until else now
    every = pandas_freq(args.every)
    engine = open_current(settings.store.url)
    try:
        summary = plot(engine, args.key, since, until, every, Path(args.output))
    finally:
        engine.dispose()
    print(json.dumps(summary))
    return 0
