"""Series maintenance commands: keys, rescore, retention."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    p = cli.add("keys", cmd_keys, "series keys that exist, with their volumes")
    p.add_argument("--since", default="30d", help="count volume since (default 30d)")
    p.add_argument("--prefix", help="only keys starting with this, e.g. topic: or entity:")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = cli.add(
        "rescore",
        cmd_rescore,
        "re-classify stored articles with another model and rebuild their series",
    )
    p.add_argument("--since", default=None, help="only articles published since (24h, ISO)")
    p.add_argument("--until", default=None, help="only articles published before")
    p.add_argument("--batch", type=int, default=256)

    p = cli.add_bench("query", cmd_bench_query, "series query latency over 30 days of buckets")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--keys", type=int, default=20)
    p.add_argument("--scratch-db", help="an EMPTY database URL to fill (default: temp SQLite)")

    cli.add("retention", cmd_retention, "apply the retention policy now (text, articles, series)")


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.core import write_frame
    from pipeline.maintenance import keys
    from pipeline.store import open_current
    from pipeline.timeparse import parse_instant

    engine = open_current(settings.store.url)
    try:
        frame = keys(engine, parse_instant(args.since), args.prefix)
    finally:
        engine.dispose()
    write_frame(frame, args.format, sys.stdout)
    return 0


def cmd_rescore(args: argparse.Namespace, settings: Settings) -> int:
    from models.registry import load_classifier
    from pipeline.maintenance import RescoreReport, rescore
    from pipeline.store import ensure_current, make_engine
    from pipeline.timeparse import parse_instant

    now = datetime.now(UTC)
    classifier = load_classifier(settings.model)
    engine = make_engine(settings.store.url)

    def progress(r: RescoreReport) -> None:
        print(
            f"rescored {r.articles} articles ({r.changed_labels} labels changed)", file=sys.stderr
        )

    try:
        ensure_current(engine)
        report = rescore(
            engine,
            classifier,
            since=parse_instant(args.since, now) if args.since else None,
            until=parse_instant(args.until, now) if args.until else None,
            batch_size=args.batch,
            explain_negative=settings.model.explain_negative,
            entity_topic_series=settings.tagging.entity_topic_series,
            progress=progress,
        )
    finally:
        engine.dispose()
    print(json.dumps(report.__dict__))
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.maintenance import apply_retention
    from pipeline.store import ensure_current, make_engine

    engine = make_engine(settings.store.url)
    try:
        ensure_current(engine)
        report = apply_retention(engine, settings.retention)
    finally:
        engine.dispose()
    print(json.dumps(report.__dict__))
    return 0


def cmd_bench_query(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bench_query import run

    print(json.dumps(run(args.scratch_db, days=args.days, keys=args.keys)))
    return 0
