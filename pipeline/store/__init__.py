"""The SQL store: SQLAlchemy 2.x tables, engine setup, schema checks and the batch writer.

SQLite is the embedded default, PostgreSQL the production store; both run the same code and
the same Alembic migrations.
"""

from pipeline.store.engine import make_engine
from pipeline.store.migrate import ensure_current, open_current, upgrade
from pipeline.store.writer import SqlStore

__all__ = ["SqlStore", "ensure_current", "make_engine", "open_current", "upgrade"]
