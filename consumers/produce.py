"""Publish articles from a JSON-lines file (what a crawler does), and rebase sample times.

Lines are published as they are, so malformed lines reach the consumer and its dead-letter
policy exactly as a crawler's bad output would. ``rebase_to`` shifts every ``published_at`` so
the newest lands at that time: the bundled sample then looks like the last few hours' news.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pipeline.errors import ConfigError

log = logging.getLogger(__name__)


def read_lines(source: IO[str] | IO[bytes] | Path) -> Iterator[str]:
    """Non-blank lines of a UTF-8 file or stream; a bad file is one :class:`ConfigError`."""
    if isinstance(source, Path):
        if not source.is_file():
            raise ConfigError(f"no such file: {source}")
        with open_binary(source) as fh:
            yield from (line for _, line in text_lines(fh, str(source)))
    else:
        yield from (line for _, line in text_lines(source, "<stdin>"))


def open_binary(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ConfigError(f"can't read {path}: {exc.strerror}") from exc


def text_lines(stream: IO[str] | IO[bytes], name: str) -> Iterator[tuple[int, str]]:
    """(line number, line without newline) of ``stream``, blank lines skipped; a line that is
    not valid UTF-8 is a ConfigError naming it, not a traceback."""
    for lineno, raw in enumerate(stream, 1):
        line: str
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{name}: line {lineno} is not valid UTF-8") from exc
        else:
            line = str(raw)
        if line.strip():
            yield lineno, line.rstrip("\r\n")


def rebase_times(lines: list[str], to: datetime) -> list[str]:
    """Shift ``published_at`` of every parseable line by one offset so the newest is ``to``."""
    parsed: list[tuple[str, dict[str, Any] | None, datetime | None]] = []
    for line in lines:
        try:
            obj = json.loads(line)
            ts = datetime.fromisoformat(obj["published_at"]) if isinstance(obj, dict) else None
        except (ValueError, KeyError, TypeError):
            obj, ts = None, None
        parsed.append((line, obj if isinstance(obj, dict) else None, ts))
    stamps = [ts for _, _, ts in parsed if ts is not None]
    if not stamps:
        return lines
    delta = to - max(stamps)
    out = []
    for line, obj, ts in parsed:
        if obj is None or ts is None:
            out.append(line)
        else:
            obj["published_at"] = (ts + delta).isoformat()
            out.append(json.dumps(obj, ensure_ascii=False))
    return out


def key_of(line: str) -> bytes | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return str(obj["id"]).encode()
    return None


def publish(producer: Any, topic: str, lines: Iterable[str]) -> int:
    """Send each line as one message (keyed by its id when it has one); returns the count."""
    futures = []
    for line in lines:
        futures.append(producer.send(topic, value=line.encode("utf-8"), key=key_of(line)))
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    return len(futures)
