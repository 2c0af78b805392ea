"""``finsentry alerts …``: list, show, ack, silence, run the scheduler, backtest."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline.display import terminal_safe
from pipeline.errors import AlertError, ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    g = cli.group("alerts", "negative-spike alerts: list, show, ack, silence, run, backtest")
    p = cli.add_to(g, "list", cmd_list, "alerts, newest first")
    p.add_argument("--status", choices=("firing", "resolved", "all"), default="all")
    p.add_argument("--since", default="7d", help="started since (default 7d)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")

    p = cli.add_to(g, "show", cmd_show, "one alert with its evidence and notifications")
    p.add_argument("id", type=int)
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = cli.add_to(g, "ack", cmd_ack, "acknowledge an alert (stops repeat notifications)")
    p.add_argument("id", type=int)
    p.add_argument("--by", default=None, help="who acknowledges (default: your user name)")

    p = cli.add_to(g, "silence", cmd_silence, "add, list or expire silences")
    p.add_argument("action", choices=("add", "list", "expire"))
    p.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="FIELD=GLOB",
        help="series_key=entity:ACME* or rule=neg_spike (repeatable; all must match)",
    )
    p.add_argument("--for", dest="duration", default="2h", help="how long (default 2h)")
    p.add_argument("--comment", default=None)
    p.add_argument("--id", type=int, help="silence id (for expire)")

    cli.add_to(g, "run", cmd_run, "run only the alert scheduler (detection and delivery)")
    cli.add_to(g, "tick", cmd_tick, "evaluate every key once now, then deliver what is due")

    p = cli.add_to(g, "backtest", cmd_backtest, "replay detection over stored history")
    p.add_argument("--since", required=True, help="start of the replay (7d, ISO time)")
    p.add_argument("--until", default=None, help="end of the replay (default now)")
    p.add_argument("--key", action="append", default=[], help="series key (repeatable)")
    p.add_argument("--every", default="1m", help="evaluation step (default 1m)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")


def _engine(settings: Settings) -> Any:
    from pipeline.store import open_current

    return open_current(settings.store.url)


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.alert_query import list_alerts
    from pipeline.cli.core import write_frame
    from pipeline.timeparse import parse_instant

    engine = _engine(settings)
    try:
        # an alert still firing is listed however long ago it started
        rows = list_alerts(engine, args.status, parse_instant(args.since))
    finally:
        engine.dispose()
    frame = pd.DataFrame(
        [
            {
                "id": r["id"],
                "status": r["status"],
                "series_key": r["series_key"],
                "started_at": r["started_at"],
                "resolved_at": r["resolved_at"],
                "acked": r["acked_at"] is not None,
                "share": (r["evidence"] or {}).get("share"),
                "baseline": (r["evidence"] or {}).get("baseline_share"),
                "lift": (r["evidence"] or {}).get("lift"),
            }
            for r in rows
        ],
        columns=[
            "id",
            "status",
            "series_key",
            "started_at",
            "resolved_at",
            "acked",
            "share",
            "baseline",
            "lift",
        ],
    ).set_index("id")
    write_frame(frame, args.format, sys.stdout)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.notify.message import jsonable
    from pipeline.alert_query import get_alert

    engine = _engine(settings)
    try:
        row = get_alert(engine, args.id)
    finally:
        engine.dispose()
    if row is None:
        raise ConfigError(f"no alert with id {args.id}")
    out = jsonable(row)
    if args.format == "json":
        print(json.dumps(out, indent=2))
    else:
        print(terminal_safe(describe(out)))
    return 0


def describe(alert: dict[str, Any]) -> str:
    """A person's view of one alert: what, when, how unusual, which articles and words."""
    from alerts.notify.message import num, pct

    e = alert.get("evidence") or {}
    lines = [
        f"alert {alert['id']}: {alert['status'].upper()} {alert['rule']} on {alert['series_key']}",
        f"  started   {alert['started_at']}"
        + (f"   resolved {alert['resolved_at']}" if alert.get("resolved_at") else ""),
        f"  window    {e.get('window_start')} .. {e.get('window_end')}",
        f"  negative  {pct(e.get('share'))} of {e.get('n')} articles ({e.get('n_neg')} negative)"
        f" vs baseline {pct(e.get('baseline_share'))} over {e.get('baseline_n')} articles",
        f"  lift      {num(e.get('lift'), '.2f')}x   p(share) {num(e.get('p_share'), '.2g')}"
        f"   z {num(e.get('z_share'), '.2f')}   p(count) {num(e.get('p_count'), '.2g')}",
    ]
    if alert.get("acked_at"):
        lines.append(f"  acked     {alert['acked_at']} by {alert.get('acked_by')}")
    words = ", ".join(str(w) for w, _ in e.get("top_words") or [])
    lines.append(f"  words     {words or 'n/a'}")
    tops = e.get("top_articles") or []
    if tops:
        lines.append("  top negative articles:")
        for t in tops:
            lines.append(f"    {t.get('score', 0):+.2f}  {t.get('title')}  [{t.get('source')}]")
    notes = alert.get("notifications") or []
    if notes:
        lines.append(
            "  notifications: "
            + ", ".join(f"{n['channel']}/{n['event']}={n['status']}" for n in notes)
        )
    return "\n".join(lines)


def cmd_ack(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.lifecycle import ack
    from pipeline.store.alerts_sql import SqlAlertStore

    engine = _engine(settings)
    try:
        done = ack(SqlAlertStore(engine), args.id, args.by or getpass.getuser())
    finally:
        engine.dispose()
    print(f"alert {args.id} acknowledged" if done else f"alert {args.id}: nothing to acknowledge")
    return 0 if done else 1


def cmd_silence(args: argparse.Namespace, settings: Settings) -> int:
    from alerts import silences
    from pipeline.alert_query import active_silences
    from pipeline.cli.core import write_frame
    from pipeline.store.alerts_sql import SqlAlertStore
    from pipeline.timeparse import parse_duration

    engine = _engine(settings)
    store = SqlAlertStore(engine)
    try:
        if args.action == "add":
            matchers = silences.parse_matchers(args.match)
            sid = silences.create(
                store,
                matchers,
                parse_duration(args.duration),
                comment=args.comment,
                created_by=getpass.getuser(),
            )
            print(
                f"silence {sid} added until "
                f"{(datetime.now(UTC) + parse_duration(args.duration)):%Y-%m-%d %H:%M} UTC"
            )
        elif args.action == "expire":
            if args.id is None:
                raise ConfigError("silence expire needs --id")
            ok = silences.expire(store, args.id)
            print(f"silence {args.id} expired" if ok else f"silence {args.id} is not active")
            return 0 if ok else 1
        else:
            active = active_silences(engine)
            frame = pd.DataFrame(
                [
                    {
                        "id": s["id"],
                        "matchers": json.dumps(s["matchers"]),
                        "ends_at": s["ends_at"],
                        "comment": s["comment"],
                        "by": s["created_by"],
                    }
                    for s in active
                ],
                columns=["id", "matchers", "ends_at", "comment", "by"],
            ).set_index("id")
            write_frame(frame, "table", sys.stdout)
    finally:
        engine.dispose()
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.daemon import build_alert_service, install_signal_handlers

    stop = threading.Event()
    install_signal_handlers(stop)
    engine = _engine(settings)
    service = build_alert_service(engine, settings)
    service.start()
    try:
        stop.wait()
    finally:
        service.stop()
        engine.dispose()
    return 0


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    from alerts.notify.outbox import deliver_due
    from pipeline.daemon import build_alert_service

    engine = _engine(settings)
    service = build_alert_service(engine, settings)
    try:
        if not service.lease.acquire():
            holder = service.lease.current_holder()
            raise AlertError(f"another process holds the alert lease ({holder}); try later")
        report = service.lifecycle.tick()
        delivered = 0
        while True:
            d = deliver_due(service.store, service.notifiers, settings.notify)
            delivered += d.delivered
            if d.claimed < settings.notify.batch_size:
                break
    finally:
        service.lease.release()
        engine.dispose()
    print(
        json.dumps(
            {
                "keys_evaluated": report.keys_evaluated,
                "fired": report.fired,
                "repeated": report.repeated,
                "resolved": report.resolved,
                "silenced": report.silenced,
                "notifications_delivered": delivered,
            }
        )
    )
    return 0


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.backtest import backtest
    from pipeline.cli.core import write_frame
    from pipeline.timeparse import parse_duration, parse_instant

    now = datetime.now(UTC)
    since = parse_instant(args.since, now)
    until = parse_instant(args.until, now) if args.until else now
    if since >= until:
        raise ConfigError("--since must be before --until")
    step = parse_duration(args.every)
    if step < timedelta(minutes=1):
        raise ConfigError("--every must be at least 1m")
    engine = _engine(settings)
    try:
        frame = backtest(engine, settings.alerts, since, until, keys=args.key or None, step=step)
    finally:
        engine.dispose()
    print(
        f"{len(frame)} alert(s) would have fired between {since:%Y-%m-%d %H:%M} and "
        f"{until:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    write_frame(frame, args.format, sys.stdout)
    return 0
