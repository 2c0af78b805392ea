"""Schema management through Alembic, configured in code so it works from an installed wheel.

The daemon calls :func:`ensure_current` and refuses to start on a schema that is behind (or
ahead: an older finsentry against a newer database); ``finsentry db upgrade`` fixes the first.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

import migrations
from pipeline.errors import SchemaError
from pipeline.store.engine import Url, make_engine, redacted, store_error


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", redacted(engine.url.render_as_string(False)))
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        where = redacted(engine.url.render_as_string(False))
        raise store_error(exc, f"can't read the schema of database {where}") from exc


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision``; returns the revision the database is now at."""
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        where = redacted(engine.url.render_as_string(False))
        raise store_error(exc, f"upgrading database {where} failed") from exc
    return current_revision(engine)


def check(engine: Engine) -> None:
    """Raise if the models and the migrations disagree (``alembic check``)."""
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)


def ensure_current(engine: Engine) -> str:
    """Return the current revision, or raise :class:`SchemaError` if it is not the head."""
    head = head_revision(engine)
    current = current_revision(engine)
    if current != head:
        where = redacted(engine.url.render_as_string(False))
        if current is None:
            raise SchemaError(
                f"database {where} has no finsentry schema; run `finsentry db upgrade` first"
            )
        raise SchemaError(
            f"database {where} is at schema revision {current}, this finsentry needs {head}; "
            "run `finsentry db upgrade`"
        )
    assert head is not None
    return head


def open_current(url: Url) -> Engine:
    """An engine on ``url`` whose schema is checked to be current: what every command that
    reads the store starts with, so an unreachable or empty database is one clear error."""
    engine = make_engine(url)
    try:
        ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
