"""Alembic environment for finsentry.

``target_metadata`` is the application's metadata (with its constraint naming convention), so
``alembic check`` catches any drift between ``pipeline/store/schema.py`` and the versions here.
finsentry passes an open connection in ``config.attributes["connection"]``; the ``alembic``
command line uses ``sqlalchemy.url`` from ``alembic.ini`` or ``FINSENTRY_STORE__URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from pipeline.store.engine import make_engine
from pipeline.store.schema import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("FINSENTRY_STORE__URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set FINSENTRY_STORE__URL or sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
