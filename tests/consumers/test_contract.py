"""The message contract: what passes, what is derived, what is refused and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from consumers.contract import decode, derive_id, strip_html
from pipeline.errors import MessageError


def enc(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_full_message() -> None:
    a = decode(
        enc(
            {
                "id": "r-1",
                "title": "Acme beats",
                "body": "<p>Strong <b>quarter</b> &amp; more</p><script>x()</script>",
                "url": "https://x/1",
                "source": "reuters",
                "lang": "en",
                "published_at": "2026-11-20T14:00:00+02:00",
                "tickers": ["acme", "$ACME", "nwnd"],
                "extra": "ignored",
            }
        ),
        topic="t",
        partition=2,
        offset=7,
    )
    assert a.id == "r-1"
    assert a.body == "Strong quarter & more"
    assert a.published_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert a.tickers == ("ACME", "NWND")
    assert (a.kafka_topic, a.kafka_partition, a.kafka_offset) == ("t", 2, 7)
    assert a.text == "Acme beats\nStrong quarter & more"


def test_id_derivation_is_stable() -> None:
    by_url = decode(enc({"title": "x", "url": "https://n/1"}))
    again = decode(enc({"title": "other title", "url": "https://n/1"}))
    assert by_url.id == again.id == derive_id("https://n/1", None, None)
    tp1 = decode(enc({"title": "Hello", "published_at": "2026-01-01T00:00:00Z"}))
    tp2 = decode(enc({"title": "Hello", "published_at": "2026-01-01T00:00:00Z"}))
    assert tp1.id == tp2.id and tp1.id.startswith("tp:")


def test_missing_time_uses_record_timestamp() -> None:
    a = decode(enc({"id": "x", "title": "t"}), record_timestamp_ms=1_700_000_000_000)
    assert a.published_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_naive_time_is_read_as_utc() -> None:
    a = decode(enc({"id": "x", "title": "t", "published_at": "2026-11-20T10:00:00"}))
    assert a.published_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        (b"\xff\xfe\x00", "not_utf8"),
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_object"),
        (enc({"id": "x"}), "invalid"),
        (enc({"id": "x", "title": "  ", "body": "<p></p>"}), "invalid"),
        (enc({"id": "x", "title": "t", "published_at": "yesterday"}), "invalid"),
        (enc({"id": "x" * 500, "title": "t"}), "invalid"),
        (enc({"id": "x", "title": "t", "tickers": 5}), "invalid"),
    ],
)
def test_contract_violations_have_reasons(raw: bytes | None, reason: str) -> None:
    with pytest.raises(MessageError) as info:
        decode(raw)
    assert info.value.reason == reason


def test_strip_html_keeps_plain_text() -> None:
    assert strip_html("Loss  narrowed\n to 5%") == "Loss narrowed to 5%"
    assert strip_html("<div>A</div><div>B</div>") == "A B"
