"""The ``finsentry`` command line.

Each command group lives in its own module exposing ``register(cli: CliRegistry)``, imported
plainly in :func:`build_parser` in help order (there rather than at the top, so the command
modules can import this one for their type hints). This module builds the parser, builds the
one :class:`~pipeline.settings.Settings` from ``--config``, the environment and the common
flags, and hands it to the chosen command. Commands return an exit code; a
:class:`~pipeline.errors.FinsentryError` becomes a one-line message and exit code 2. No Python
traceback reaches a user: a database error that escaped its boundary, an OS error and anything
unexpected also end as one line (exit 2, or 1 for the unexpected, whose traceback is logged at
DEBUG).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.errors import FinsentryError
from pipeline.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


@dataclass
class CliRegistry:
    """What a command module needs to add its commands."""

    commands: Any  # argparse._SubParsersAction for top-level commands
    bench: Any  # argparse._SubParsersAction for ``finsentry bench <name>``
    common: argparse.ArgumentParser  # parent parser with the shared flags

    def add(self, name: str, handler: Handler, help: str, **kwargs: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = self.commands.add_parser(
            name, help=help, description=help, parents=[self.common], **kwargs
        )
        p.set_defaults(func=handler)
        return p

    def add_bench(self, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = self.bench.add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        p.set_defaults(func=handler)
        return p

    def group(self, name: str, help: str) -> Any:
        """A command with sub-commands (``finsentry db upgrade``); returns its subparsers."""
        p = self.commands.add_parser(name, help=help, description=help)
        return p.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    def add_to(self, group: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = group.add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        p.set_defaults(func=handler)
        return p


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--config", metavar="FILE", help="TOML settings file (also FINSENTRY_CONFIG)")
    g.add_argument("--bootstrap-servers", metavar="HOST:PORT", help="Kafka bootstrap servers")
    g.add_argument("--db", metavar="URL", help="SQLAlchemy database URL")
    g.add_argument(
        "--model", metavar="NAME|PATH", help="default, lexicon, or a local checkpoint folder"
    )
    g.add_argument("--device", metavar="DEV", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING, ERROR")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsentry",
        description="Streaming financial-news sentiment monitor.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench_parser = commands.add_parser("bench", help="benchmarks (JSON out)")
    bench = bench_parser.add_subparsers(dest="bench_command", required=True, metavar="NAME")
    cli = CliRegistry(commands=commands, bench=bench, common=_common_parser())
    from pipeline.cli import (
        alert_cmds,
        alert_ops,
        api_cmds,
        core,
        model_cmds,
        plot_cmds,
        series_cmds,
    )

    for module in (core, model_cmds, series_cmds, alert_cmds, alert_ops, plot_cmds, api_cmds):
        module.register(cli)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    import os

    config = getattr(args, "config", None) or os.environ.get("FINSENTRY_CONFIG")
    overrides: dict[str, Any] = {
        "kafka": {"bootstrap_servers": getattr(args, "bootstrap_servers", None)},
        "store": {"url": getattr(args, "db", None)},
        "model": {
            "name": getattr(args, "model", None),
            "device": getattr(args, "device", None),
        },
    }
    if getattr(args, "log_level", None):
        overrides["log_level"] = args.log_level
    return load_settings(config, **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        configured = bool(logging.root.handlers)  # a host (tests, an app) owns logging already
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if not configured and settings.log_level.upper() != "DEBUG":
            for handler in logging.root.handlers:
                handler.addFilter(_one_line_exceptions)
        for noisy in ("kafka", "apscheduler.executors", "httpx", "alembic.runtime"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        rc: int = args.func(args, settings)
        return rc
    except FinsentryError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `finsentry articles | head`
        return 0
    except Exception as exc:
        from sqlalchemy.exc import SQLAlchemyError

        from pipeline.store.engine import store_error

        if isinstance(exc, SQLAlchemyError):
            return _fail(store_error(exc, "database error"))
        if isinstance(exc, OSError):
            return _fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        logging.getLogger("finsentry").debug("unexpected error", exc_info=True)
        return _fail(f"unexpected {type(exc).__name__}: {exc}", code=1)


def _one_line_exceptions(record: logging.LogRecord) -> bool:
    """Below DEBUG, a logged exception (ours or a library's) is one line, not a traceback."""
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    return True


def _fail(exc: object, code: int = 2) -> int:
    from pipeline.display import terminal_safe

    line = str(terminal_safe(str(exc))).strip().splitlines()[0] if str(exc).strip() else "failed"
    print(f"finsentry: error: {line}", file=sys.stderr)
    return code


def entry() -> None:
    """The ``finsentry`` executable: :func:`main`, plus a one-line report for exceptions that
    Python can only print (a library object's ``__del__`` failing at exit, say) — no
    traceback reaches the terminal even then."""
    sys.unraisablehook = _unraisable_one_line
    sys.exit(main())


def _unraisable_one_line(unraisable: Any) -> None:
    exc = unraisable.exc_value
    where = getattr(unraisable.object, "__qualname__", None) or type(unraisable.object).__name__
    print(f"finsentry: warning: ignored {type(exc).__name__} in {where}: {exc}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    entry()
