"""Core commands: run, produce, query, db, broker, classify."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from pipeline.errors import ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    p = cli.add("run", cmd_run, "run the daemon: consume, classify, store (until SIGTERM)")
    p.add_argument(
        "--exit-when-idle",
        type=float,
        metavar="SECONDS",
        help="stop after the topic has been quiet this long (batch/demo use)",
    )
    p.add_argument("--group", help="consumer group id (default from settings)")
    p.add_argument(
        "--http",
        action="store_true",
        help="also serve the API, dashboard, /health and /metrics (see finsentry serve)",
    )
    p.add_argument("--host", help="HTTP address with --http (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP port with --http (default 8686)")

    p = cli.add("produce", cmd_produce, "publish articles from a JSON-lines file to Kafka")
    p.add_argument("file", help="JSON lines, one article per line ('-' for stdin)")
    p.add_argument("--topic", help="topic (default: the news topic from settings)")
    p.add_argument(
        "--rebase-time",
        action="store_true",
        help="shift published_at so the newest article is now (for replaying samples)",
    )

    p = cli.add("query", cmd_query, "a sentiment time series (pandas roll-up of 1m buckets)")
    p.add_argument("--key", default="all", help="series key: all, source:X, topic:X, entity:X")
    p.add_argument("--since", default="24h", help="24h, 7d or an ISO time (default 24h)")
    p.add_argument("--until", default=None, help="ISO time or duration ago (default now)")
    p.add_argument("--every", default="1h", help="bucket size: 1m, 5m, 1h, 1d (default 1h)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--nonempty", action="store_true", help="leave out buckets with no articles")

    p = cli.add(
        "articles", cmd_articles, "the stories behind a series, newest first, with copy counts"
    )
    p.add_argument("--key", default="all", help="series key: all, source:X, topic:X, entity:X")
    p.add_argument("--since", default="24h", help="24h, 7d or an ISO time (default 24h)")
    p.add_argument("--until", default=None, help="ISO time or duration ago (default now)")
    p.add_argument("--label", choices=("negative", "neutral", "positive"))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--explain",
        action="store_true",
        help="load the model to explain the stories stored without explanation words",
    )

    db = cli.group("db", "database schema management")
    cli.add_to(db, "upgrade", cmd_db_upgrade, "apply migrations up to the latest schema")
    cli.add_to(db, "current", cmd_db_current, "show the schema revision of the database")

    p = cli.add("broker", cmd_broker, "run the embedded Kafka-compatible broker (loopback)")
    p.add_argument("--port", type=int, default=9092)

    p = cli.add_bench("soak", cmd_bench_soak, "the daemon at a steady rate with poison: RSS, lag")
    p.add_argument("--minutes", type=float, default=10.0, help="how long to publish (default 10)")
    p.add_argument("--rate", type=float, default=20.0, help="messages per second (default 20)")
    p.add_argument("--poison", type=float, default=0.02, help="fraction of malformed messages")
    p.add_argument("--scratch-db", help="database URL to fill (default: a temporary SQLite)")

    p = cli.add_bench(
        "pipeline", cmd_bench_pipeline, "daemon end to end vs the model's own speed: ratio, latency"
    )
    p.add_argument("--n", type=int, default=4000, help="sample articles per run (default 4000)")
    p.add_argument(
        "--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    p.add_argument("--daemons", type=int, default=1, help="2+: add a scale-out run on PostgreSQL")
    p.add_argument("--pg-admin-url", help="PostgreSQL server for the scratch database")

    p = cli.add("classify", cmd_classify, "classify JSON lines offline (no broker, no database)")
    p.add_argument("file", nargs="?", default="-", help='JSON lines {"id","text"} or title/body')
    p.add_argument("--explain", action="store_true", help="add the tokens behind each label")
    p.add_argument("--batch", type=int, default=256, help="documents per classifier call")


# -- run ----------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.daemon import Daemon, install_signal_handlers

    if args.group:
        settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"group_id": args.group})}
        )
    if args.host is not None or args.port is not None:
        if not args.http:
            raise ConfigError("--host and --port need --http")
        from pipeline.cli.api_cmds import with_http

        settings = with_http(settings, args.host, args.port)
    stop = threading.Event()
    install_signal_handlers(stop)
    stats = Daemon(settings, http=args.http).run(stop, idle_exit_s=args.exit_when_idle)
    print(
        json.dumps(
            {
                "consumed": stats.consumed,
                "stored": stats.stored,
                "duplicates": stats.duplicates,
                "dead_lettered": stats.dead_lettered,
                "batches": stats.batches,
            }
        )
    )
    return 0


# -- produce ------------------------------------------------------------------------------
def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.kafka_io import ensure_topics, make_producer
    from consumers.produce import publish, read_lines, rebase_times

    source: IO[bytes] | Path = sys.stdin.buffer if args.file == "-" else Path(args.file)
    lines = list(read_lines(source))
    if args.rebase_time:
        lines = rebase_times(lines, datetime.now(UTC).replace(microsecond=0))
    topic = args.topic or settings.kafka.topic
    ensure_topics(settings.kafka, [topic])
    producer = make_producer(settings.kafka)
    try:
        n = publish(producer, topic, lines)
    finally:
        producer.close()
    print(f"published {n} messages to {topic}", file=sys.stderr)
    return 0


# -- query --------------------------------------------------------------------------------
def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.query import require_key, series
    from pipeline.store import open_current
    from pipeline.timeparse import pandas_freq, parse_instant

    now = datetime.now(UTC)
    since = parse_instant(args.since, now)
    until = parse_instant(args.until, now) if args.until else now
    if since >= until:
        raise ConfigError("--since must be before --until")
    every = pandas_freq(args.every)
    engine = open_current(settings.store.url)
    try:
        require_key(engine, args.key)
        frame = series(engine, args.key, since, until, every=every)
    finally:
        engine.dispose()
    if args.nonempty:
        frame = frame[frame["n"] > 0]
    write_frame(frame, args.format, sys.stdout)
    return 0


def cmd_articles(args: argparse.Namespace, settings: Settings) -> int:
    from models.registry import load_classifier
    from pipeline.explanations import explainer
    from pipeline.query import articles, require_key
    from pipeline.store import open_current
    from pipeline.timeparse import parse_instant

    now = datetime.now(UTC)
    since = parse_instant(args.since, now)
    until = parse_instant(args.until, now) if args.until else None
    engine = open_current(settings.store.url)
    try:
        require_key(engine, args.key)
        explain = explainer(engine, load_classifier(settings.model)) if args.explain else None
        frame = articles(
            engine,
            args.key,
            since,
            until,
            label=args.label,
            limit=args.limit,
            stories=True,
            explain=explain,
        )
    finally:
        engine.dispose()
    frame["why"] = frame.pop("explanation").map(
        lambda e: " ".join(str(t[0]) for t in e[:5]) if isinstance(e, list) else ""
    )
    if args.format == "table":
        frame = frame[["published_at", "source", "label", "score", "copies", "title", "why"]]
        frame["title"] = frame["title"].str.slice(0, 70)
        frame = frame.set_index("published_at")
    else:
        frame = frame.set_index("id")
    write_frame(frame, args.format, sys.stdout)
    return 0


def _is_text(values: Any) -> bool:
    return bool(
        pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)
    )


def write_frame(frame: pd.DataFrame, fmt: str, out: IO[str]) -> None:
    """A frame as a table, CSV or JSON; wire text is made terminal-safe in table and CSV."""
    from pipeline.display import terminal_safe

    frame = frame.copy()
    if fmt != "json":
        for col in frame.columns:
            if _is_text(frame[col]):
                frame[col] = frame[col].map(terminal_safe)
        if _is_text(frame.index):
            frame.index = frame.index.map(terminal_safe)
    for col in ("score_sum", "neg_share", "mean_score"):
        if col in frame:
            frame[col] = frame[col].round(4)
    if fmt == "csv":
        frame.to_csv(out, date_format="%Y-%m-%dT%H:%M:%SZ")
    elif fmt == "json":
        records = frame.reset_index()
        for col in records.columns:
            if pd.api.types.is_datetime64_any_dtype(records[col]):
                records[col] = records[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.write(json.dumps(records.to_dict(orient="records")) + "\n")
    else:
        if frame.empty:
            out.write("(no data)\n")
        else:
            out.write(frame.to_string() + "\n")


# -- db -----------------------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import make_engine, upgrade
    from pipeline.store.engine import redacted

    engine = make_engine(settings.store.url)
    try:
        rev = upgrade(engine)
    finally:
        engine.dispose()
    print(f"{redacted(settings.store.url)} is at schema revision {rev}")
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.store import make_engine
    from pipeline.store.migrate import current_revision, head_revision

    engine = make_engine(settings.store.url)
    try:
        cur, head = current_revision(engine), head_revision(engine)
    finally:
        engine.dispose()
    print(json.dumps({"current": cur, "head": head, "up_to_date": cur == head}))
    return 0 if cur == head else 1


# -- broker -------------------------------------------------------------------------------
def cmd_broker(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.broker import EmbeddedBroker
    from pipeline.daemon import install_signal_handlers

    stop = threading.Event()
    install_signal_handlers(stop)
    with EmbeddedBroker(args.port) as broker:
        print(f"embedded broker ready on {broker.bootstrap} (Ctrl-C to stop)", flush=True)
        while not stop.wait(1.0):
            if broker.proc is None or broker.proc.poll() is not None:
                print("embedded broker exited", file=sys.stderr)
                return 1
    return 0


# -- bench soak ---------------------------------------------------------------------------
def cmd_bench_soak(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bench_soak import run

    if args.minutes <= 0 or args.rate <= 0 or not 0 <= args.poison < 1:
        raise ConfigError("--minutes and --rate must be positive, --poison in [0, 1)")
    report = run(
        args.minutes,
        args.rate,
        poison_fraction=args.poison,
        db_url=args.scratch_db,
        model=settings.model.name,
    )
    print(json.dumps(report))
    return 0 if report["unaccounted"] == 0 and report["daemon_exit"] == 0 else 1


# -- bench pipeline -----------------------------------------------------------------------
def cmd_bench_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.bench_pipeline import PG_ADMIN_URL, run

    stores = tuple(s.strip() for s in args.stores.split(",") if s.strip())
    if not stores or any(s not in ("sqlite", "postgresql") for s in stores):
        raise ConfigError("--stores takes sqlite, postgresql or both, comma-separated")
    if args.n < 100 or args.daemons < 1:
        raise ConfigError("--n must be at least 100 and --daemons at least 1")
    report = run(
        args.n,
        stores,
        model=settings.model.name,
        daemons=args.daemons,
        pg_admin_url=args.pg_admin_url or PG_ADMIN_URL,
        progress=lambda line: print(line, file=sys.stderr),
    )
    print(json.dumps(report))
    return 0


# -- classify -----------------------------------------------------------------------------
def _docs(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, doc or None, error) for each non-blank line."""
    from consumers.produce import text_lines

    for lineno, line in text_lines(stream, getattr(stream, "name", "<stdin>")):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, None, f"not JSON: {exc}"
            continue
        if not isinstance(obj, dict):
            yield lineno, None, "expected a JSON object"
            continue
        text = obj.get("text")
        if not isinstance(text, str) or not text.strip():
            parts = [obj.get("title"), obj.get("body")]
            text = "\n".join(p for p in parts if isinstance(p, str) and p.strip())
        if not text.strip():
            yield lineno, None, "no text: give text, or title/body"
            continue
        yield lineno, {"id": obj.get("id", lineno), "text": text}, ""


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from consumers.contract import strip_html
    from models.registry import load_classifier

    classifier = load_classifier(settings.model)
    errors = 0
    stream: IO[bytes] = sys.stdin.buffer if args.file == "-" else _open(args.file)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        preds = classifier.classify([strip_html(d["text"]) for d in batch], explain=args.explain)
        for doc, pred in zip(batch, preds, strict=True):
            sys.stdout.write(json.dumps({"id": doc["id"], **pred.as_dict()}) + "\n")
        sys.stdout.flush()
        batch.clear()

    try:
        for lineno, doc, err in _docs(stream):
            if doc is None:
                errors += 1
                print(f"finsentry classify: line {lineno}: {err}", file=sys.stderr)
                continue
            batch.append(doc)
            if len(batch) >= args.batch:
                flush()
        if batch:
            flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return 1 if errors else 0


def _open(path: str) -> IO[bytes]:
    from consumers.produce import open_binary

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such file: {p}")
    return open_binary(p)
