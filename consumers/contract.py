"""The message contract for ``news.raw`` (JSON, UTF-8) and its decoder.

A message that breaks the contract raises :class:`~pipeline.errors.MessageError` with a short
reason code (``not_utf8``, ``not_json``, ``not_object``, ``invalid``, ``empty``,
``bad_timestamp``, ``undecodable``) and never stops the consumer: the loop sends it to the
dead-letter topic with its original bytes. ``decode`` raises nothing else: any exception from a
value the JSON parser accepts (huge integers, deep nesting, odd markup, dates out of range) is
turned into ``MessageError("undecodable", ...)`` here, in one place, rather than per example.

Text is kept as sent, except characters no store can hold: NUL and lone UTF-16 surrogates are
dropped from every text field (PostgreSQL refuses NUL in text; a lone surrogate can't be encoded
as UTF-8). Control characters, escape sequences and bidi overrides are *stored* as sent and made
visible wherever text is shown (:mod:`pipeline.display`).

Timestamp policy: ``published_at`` later than ingestion is stored as the ingestion time (a
crawler clock running ahead must not put articles into future buckets); earlier than
:data:`OLDEST_PUBLISHED` (1990-01-01) is a contract violation (``bad_timestamp``): it is almost
always a parsing bug upstream, and storing it would create series buckets decades back.

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
MAX_TEXT_CHARS = 100_000  # a title or body longer than this before stripping is not an article
OLDEST_PUBLISHED = datetime(1990, 1, 1, tzinfo=UTC)
# NUL and lone surrogates: characters that no store (PostgreSQL text, UTF-8) can hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` without the characters a store can't hold (NUL, lone surrogates)."""
    return _UNSTORABLE.sub("", text)


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
_TAG = re.compile(r"<[^>]*>?")


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return _WS.sub(" ", text).strip()
    parser = _TextExtractor()
    try:
        parser.feed(text)
        parser.close()
        extracted = "".join(parser.parts)
    except Exception:
        extracted = _TAG.sub(" ", text)
    return _WS.sub(" ", html.unescape(extracted)).strip()


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

    @field_validator("id", "title", "body", "url", "source", "lang", mode="after")
    @classmethod
    def _not_huge(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if len(v) > MAX_TEXT_CHARS:
            raise ValueError(f"longer than {MAX_TEXT_CHARS} characters")
        return v

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            return [t for t in re.split(r"[,\s]+", v) if t]
        return v

    @field_validator("tickers", mode="after")
    @classmethod
    def _few_tickers(cls, v: list[str]) -> list[str]:
        return [t[:32] for t in v[:50]]

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
    """Bytes from Kafka → :class:`Article`, or :class:`MessageError` with a reason.

    Never raises anything but :class:`MessageError` (see the module docstring)."""
    try:
        return _decode(
            value,
            record_timestamp_ms=record_timestamp_ms,
            topic=topic,
            partition=partition,
            offset=offset,
        )
    except MessageError:
        raise
    except RecursionError as exc:
        raise MessageError("undecodable", "nesting too deep") from exc
    except Exception as exc:
        raise MessageError("undecodable", f"{type(exc).__name__}: {exc}"[:500]) from exc


def _decode(
    value: bytes | None,
    *,
    record_timestamp_ms: int | None,
    topic: str | None,
    partition: int | None,
    offset: int | None,
) -> Article:
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
    for name in ("id", "title", "body", "url", "source", "lang"):
        if isinstance(obj.get(name), str):
            obj[name] = storable(obj[name])
    if isinstance(obj.get("tickers"), list):
        obj["tickers"] = [storable(t) if isinstance(t, str) else t for t in obj["tickers"]]
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
    if published is not None and published < OLDEST_PUBLISHED:
        raise MessageError("bad_timestamp", f"published_at {published.isoformat()} is before 1990")
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
