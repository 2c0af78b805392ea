"""Session-wide real components: the embedded Kafka broker and a PostgreSQL server.

The broker starts once per test session on a free loopback port and is stopped after; each test
uses its own topics and consumer group. Each database test gets a fresh SQLite file or a fresh
PostgreSQL database (created here, dropped after), so tests never see each other's rows.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from consumers.broker import EmbeddedBroker
from pipeline.settings import Settings, load_settings
from pipeline.store import make_engine, upgrade

PG_ADMIN_URL = os.environ.get(
    "FINSENTRY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main()`` sets up logging for a whole process (root level, quieter httpx, kafka …);
    give later tests the logging they would have had."""
    loggers = logging.root.manager.loggerDict
    levels = {n: lg.level for n, lg in loggers.items() if isinstance(lg, logging.Logger)}
    root_level, root_handlers = logging.root.level, list(logging.root.handlers)
    yield
    for name, lg in list(loggers.items()):
        if isinstance(lg, logging.Logger):
            lg.setLevel(levels.get(name, logging.NOTSET))
    logging.root.setLevel(root_level)
    logging.root.handlers[:] = root_handlers


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as b:
        yield b


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # fail loudly: PostgreSQL tests are not optional here
        conn.execute(text("select 1"))
    yield engine
    engine.dispose()


def _pg_database(pg_admin: Engine) -> Iterator[str]:
    name = f"finsentry_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/finsentry.db"
    else:
        yield from _pg_database(request.getfixturevalue("pg_admin"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def kafka_names() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"topic": f"news.raw.{tag}", "dlq_topic": f"news.dlq.{tag}", "group_id": f"g-{tag}"}


@pytest.fixture
def settings(broker: EmbeddedBroker, db_url: str, kafka_names: dict[str, str]) -> Settings:
    """Settings for one test: its own topics and group on the session broker, its own DB."""
    return load_settings(
        None,
        kafka={
            "bootstrap_servers": broker.bootstrap,
            "session_timeout_ms": 6000,
            "poll_timeout_ms": 200,
            "batch_size": 25,
            **kafka_names,
        },
        store={"url": db_url},
        model={"name": "lexicon"},
        tagging={"topic_model": "keywords"},
    )
