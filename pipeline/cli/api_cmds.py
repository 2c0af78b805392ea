"""``finsentry serve``: the API and the dashboard over the store, no consuming.

For people who only read: it opens the store (refusing a schema that is behind), serves until
SIGTERM/SIGINT, then stops the server and closes the store. It loads the configured model in the
background to explain the stories people open (``--no-explain``: stored explanations only, no
model in memory). ``finsentry run --http`` serves the same app from inside the daemon, with the
daemon's broker, lag and model in ``/health``.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.cli import CliRegistry


def register(cli: CliRegistry) -> None:
    p = cli.add(
        "serve", cmd_serve, "serve the HTTP API and dashboard over the store (no consuming)"
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, help="TCP port (default 8686; 0 = any free port)")
    p.add_argument(
        "--no-explain",
        dest="explain",
        action="store_false",
        help="don't load the model: shown stories carry only the explanations already stored",
    )


def with_http(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` with ``--host``/``--port`` over ``settings.http``."""
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not update:
        return settings
    try:
        http = settings.http.model_validate({**settings.http.model_dump(), **update})
    except ValueError as exc:
        raise ConfigError(f"--host/--port: {one_line(exc)}") from exc
    return settings.model_copy(update={"http": http})


def one_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[1:3]) if len(lines) > 1 else (lines[0] if lines else "invalid")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from models.registry import load_classifier
    from pipeline.api.context import BackgroundExplainer
    from pipeline.api.server import ApiServer
    from pipeline.daemon import install_signal_handlers
    from pipeline.store import open_current

    settings = with_http(settings, args.host, args.port)
    stop = threading.Event()
    install_signal_handlers(stop)
    engine = open_current(settings.store.url)
    try:
        source = None
        if args.explain:
            source = BackgroundExplainer(engine, lambda: load_classifier(settings.model))
        with ApiServer(settings, engine, explainer_source=source) as server:
            if source is not None:  # only once the port is ours: a refused start loads nothing
                source.start()
            print(f"finsentry: serving the API and dashboard on {server.url}/", file=sys.stderr)
            sys.stderr.flush()
            stop.wait()
    finally:
        engine.dispose()
    return 0
