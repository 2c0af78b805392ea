"""The message contract for ``news.raw`` (JSON, UTF-8) and its decoder.

A message that breaks the contract raises :class:`~pipeline.errors.MessageError` with a short
reason code (``not_utf8``, ``not_json``, ``not_object``, ``invalid``, ``empty``) and never stops
the consumer: the loop sends it to the dead-letter topic with its original bytes.

Rules: ``id`` is the crawler's stable id; if absent it is derived from ``url``, else from
``title`` + ``published_at`` (so a re-crawl of the same story gets the same id). ``title`` is
required unless ``body`` is present. ``body`` has its HTML stripped. ``published_at`` is ISO-8601;
a timestamp without a zone is read as UTC; absent, the Kafka record timestamp is used. Tickers
are upper-cased and de-duplicated.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consumers.records import Article
from pipeline.errors import MessageError

MAX_ID_LEN = 200
MAX_BODY_CHARS = 20_000  # the stored lead; the classifier reads far less (token budget)


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in ("p", "br", "div", "li", "h1", "h2", "h3", "tr"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


_WS = re.compile(r"\s+")


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return _WS.sub(" ", text).strip()
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return _WS.sub(" ", html.unescape("".join(parser.parts))).strip()


class NewsMessage(BaseModel):
    """The JSON object on ``news.raw``. Unknown fields are allowed and ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str | None = Field(default=None, max_length=MAX_ID_LEN)
    title: str | None = None
    body: str | None = None
    url: str | None = None
    source: str | None = Field(default=None, max_length=200)
    lang: str | None = Field(default=None, max_length=16)
    published_at: datetime | None = None
    tickers: list[str] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_str(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            return [t for t in re.split(r"[,\s]+", v) if t]
        return v

    @field_validator("published_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return None
        if v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v.astimezone(UTC)


def derive_id(url: str | None, title: str | None, published_at: datetime | None) -> str:
    if url:
        return "url:" + hashlib.sha256(url.encode()).hexdigest()[:32]
    basis = f"{title or ''}|{published_at.isoformat() if published_at else ''}"
    return "tp:" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def decode(
    value: bytes | None,
    *,
    record_timestamp_ms: int | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> Article:
    """Bytes from Kafka → :class:`Article`, or :class:`MessageError` with a reason."""
    if value is None:
        raise MessageError("empty", "message has no value (tombstone)")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MessageError("not_utf8", str(exc)) from exc
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MessageError("not_json", str(exc)) from exc
    if not isinstance(obj, dict):
        raise MessageError("not_object", f"expected a JSON object, got {type(obj).__name__}")
    try:
        msg = NewsMessage.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise MessageError("invalid", f"{where}: {first['msg']}") from exc
    title = strip_html(msg.title) if msg.title else None
    body = strip_html(msg.body)[:MAX_BODY_CHARS] if msg.body else None
    if not title and not body:
        raise MessageError("invalid", "title or body is required")
    published = msg.published_at
    if published is None:
        if record_timestamp_ms is None or record_timestamp_ms < 0:
            published = datetime.now(UTC)
        else:
            published = datetime.fromtimestamp(record_timestamp_ms / 1000, tz=UTC)
    article_id = msg.id or derive_id(msg.url, title, msg.published_at)
    tickers = tuple(dict.fromkeys(t.strip().lstrip("$").upper() for t in msg.tickers if t.strip()))
    return Article(
        id=article_id,
        title=title,
        body=body,
        url=msg.url or None,
        source=msg.source or None,
        lang=msg.lang or None,
        published_at=published,
        tickers=tickers,
        kafka_topic=topic,
        kafka_partition=partition,
        kafka_offset=offset,
    )
