"""Engine creation: URL normalisation, SQLite pragmas, a redacted URL for logs, and the one
place that turns a driver error into the project's error family.

Which database errors are an *outage* and which a *refusal*: connection-level failures
(``OperationalError`` — server gone, SQLite locked —, ``InterfaceError``, a disconnect, a pool
timeout, an invalidated connection) are :class:`~pipeline.errors.StoreError`, retried with
backoff; everything else (``DataError`` — a value out of range —, ``IntegrityError``, a statement
the driver can't bind) means the data itself was refused: :class:`~pipeline.errors.StoreRejected`,
which the consumer answers by isolating and dead-lettering the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from pipeline.errors import ConfigError, StoreError, StoreRejected

_OUTAGES = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def store_error(exc: Exception, what: str) -> StoreError:
    """``exc`` from SQLAlchemy or the driver as a StoreError (outage) or StoreRejected (data)."""
    message = f"{what}: {_first_line(exc)}"
    if isinstance(exc, _OUTAGES) or getattr(exc, "connection_invalidated", False):
        return StoreError(message)
    return StoreRejected(message)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# The store URL as settings hold it: a secret (it may carry a PostgreSQL password), unwrapped
# only here, where an engine is made; plain strings are accepted for tests and tools.
Url = str | SecretStr


def _plain(url: Url) -> str:
    return url.get_secret_value() if isinstance(url, SecretStr) else url


def normalise_url(url: Url) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3 (the driver finsentry installs)."""
    u = make_url(_plain(url))
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def redacted(url: Url) -> str:
    """The URL with its password masked: the only form that may reach a log."""
    return make_url(_plain(url)).render_as_string(hide_password=True)


def make_engine(url: Url, echo: bool = False) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if u.get_backend_name() == "sqlite":
        db = u.database
        if db and db != ":memory:":
            try:
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"can't create the folder for SQLite database {db}: {exc.strerror}"
                ) from exc
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (sa_exc.ArgumentError, ImportError, ValueError) as exc:
        raise ConfigError(f"bad database URL {redacted(url)}: {exc}") from exc
    if u.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets queries read while the daemon writes; FKs are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    return engine
