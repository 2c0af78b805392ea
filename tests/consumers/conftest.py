"""Fixtures for the consumer tests: the test's database, migrated to head."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from pipeline.settings import Settings
from pipeline.store import make_engine, upgrade


@pytest.fixture
def store_engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.store.url)
    upgrade(eng)
    yield eng
    eng.dispose()
