"""Poison through the real broker, the real daemon and real databases (SQLite and PostgreSQL).

Each family of bad input the consumer must survive is mixed into one stream of good messages:
contract violations the JSON parser accepts (huge integers, deep nesting, odd markup, dates out
of range, NUL and lone surrogates, …), a row the database itself refuses (a trigger that aborts
the insert of one article), and a dead letter the DLQ refuses as it is (a value over the
producer's request size). Everything must end stored or dead-lettered, the good messages behind
the poison must be stored, and the daemon must go idle (no partition stalled).
"""

from __future__ import annotations

import json
import threading

import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from consumers.kafka_io import ensure_topics
from pipeline.daemon import Daemon
from pipeline.settings import Settings
from pipeline.store.schema import articles
from tests.helpers import news, read_topic

REJECT_TITLE = "Row the database refuses"


def poison_kinds() -> dict[str, bytes | None]:
    """name → raw message value (None = a tombstone)."""
    huge_int = b'{"id": "h1", "title": "big number", "n": ' + b"9" * 5000 + b"}"
    deep = b'{"title": "deep", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    kinds: dict[str, bytes | None] = {
        "not_utf8": b'{"title": "caf\xe9 \xff"}',
        "not_json": b"{broken json",
        "json_array": b'["a", "b"]',
        "json_number": b"42",
        "huge_int": huge_int,
        "deep_nesting": deep,
        "date_overflow": json.dumps(
            {"id": "d1", "title": "far", "published_at": "9999-12-31T23:59:59-23:59"}
        ).encode(),
        "date_too_old": json.dumps(
            {"id": "d2", "title": "old", "published_at": "1850-01-01T00:00:00Z"}
        ).encode(),
        "date_garbage": json.dumps(
            {"id": "d3", "title": "x", "published_at": "yesterday"}
        ).encode(),
        "tickers_object": json.dumps({"id": "t1", "title": "x", "tickers": {"a": 1}}).encode(),
        "id_list": json.dumps({"id": ["x"], "title": "x"}).encode(),
        "title_number_only": json.dumps({"id": "n1", "title": 12}).encode(),
        "empty_object": b"{}",
        "tombstone": None,
        "oversize_title": json.dumps({"id": "o1", "title": "x" * 150_000}).encode(),
        "store_rejects": json.dumps({"id": "r1", "title": REJECT_TITLE}).encode(),
        "dlq_refuses_size": b"\x00not json at all " + b"z" * 1_200_000,
    }
    return kinds


# Poison that the contract *cleans* rather than refuses: stored, with the offending characters
# dropped (NUL, lone surrogates) or kept and shown escaped (control/bidi characters).
CLEANED = {
    "nul_in_title": {"id": "c1", "title": "Acme\x00 wins order"},
    "lone_surrogate": {"id": "c2", "title": "Acme \ud800 wins order"},
    "ansi_and_bidi": {"id": "c3", "title": "Acme \x1b[2J\u202e wins order"},
    "markup_mess": {"id": "c4", "title": "<p>Acme <b>wins</b> order<script>x()</script>"},
    "odd_markup": {"id": "c6", "title": "<![if !supportLists]><x"},
    "future_date": {"id": "c5", "title": "Acme future", "published_at": "2999-01-01T00:00:00Z"},
}


def install_reject_trigger(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER reject_one BEFORE INSERT ON articles "
                    f"WHEN NEW.title = '{REJECT_TITLE}' "
                    "BEGIN SELECT RAISE(ABORT, 'rejected by policy'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION reject_one() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.title = '{REJECT_TITLE}' THEN "
                    "RAISE EXCEPTION 'rejected by policy' USING ERRCODE = '22023'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER reject_one BEFORE INSERT ON articles "
                    "FOR EACH ROW EXECUTE FUNCTION reject_one()"
                )
            )


def publish_raw(settings: Settings, values: list[tuple[bytes | None, bytes | None]]) -> None:
    ensure_topics(settings.kafka, [settings.kafka.topic, settings.kafka.dlq_topic])
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        max_request_size=4_000_000,
        acks="all",
    )
    try:
        futures = [producer.send(settings.kafka.topic, value=v, key=k) for k, v in values]
        producer.flush()
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()


@pytest.fixture
def store(store_engine: Engine) -> Engine:
    install_reject_trigger(store_engine)
    return store_engine


def test_every_poison_family_ends_stored_or_dead_lettered(
    settings: Settings, store: Engine
) -> None:
    kinds = poison_kinds()
    good = [json.dumps(news(i)).encode() for i in range(60)]
    stream: list[tuple[bytes | None, bytes | None]] = []
    for i, value in enumerate(kinds.values()):  # poison spread among the good messages
        stream.extend((None, g) for g in good[3 * i : 3 * i + 3])
        stream.append((b"poison" if value is None else None, value))
    stream.extend((None, json.dumps(m).encode()) for m in CLEANED.values())
    stream.extend((None, g) for g in good[3 * len(kinds) :])
    publish_raw(settings, stream)

    stats = Daemon(settings).run(threading.Event(), idle_exit_s=4)

    with store.connect() as conn:
        stored = int(conn.execute(select(func.count()).select_from(articles)).scalar_one())
        titles = dict(conn.execute(select(articles.c.id, articles.c.title)).all())
    assert stored == len(good) + len(CLEANED)  # every good message behind the poison
    assert stats.dead_lettered == len(kinds)
    assert stats.consumed == len(stream)
    dead = read_topic(settings.kafka, settings.kafka.dlq_topic, expected=len(kinds))
    assert len(dead) == len(kinds)  # each poison record dead-lettered exactly once
    reasons = {dict(r.headers)["finsentry-reason"].decode() for r in dead}
    assert {"not_utf8", "not_json", "undecodable", "invalid", "empty"} <= reasons
    assert {"bad_timestamp", "store_rejected"} <= reasons
    envelopes = [r for r in dead if dict(r.headers).get("finsentry-envelope") == b"1"]
    assert len(envelopes) == 1
    env = json.loads(envelopes[0].value)
    assert env["size"] == len(kinds["dlq_refuses_size"] or b"")
    assert {r.key for r in dead} == {
        f"{settings.kafka.topic}/{r_p}/{r_o}".encode()
        for r_p, r_o in (
            (
                int(dict(r.headers)["finsentry-source-partition"]),
                int(dict(r.headers)["finsentry-source-offset"]),
            )
            for r in dead
        )
    }
    assert titles["c1"] == "Acme wins order" and titles["c2"] == "Acme wins order"
    assert titles["c3"] == "Acme \x1b[2J\u202e wins order"  # stored as sent
    assert titles["c4"] == "Acme wins order"
