"""One error family for finsentry.

::

    FinsentryError
    ├── ConfigError            bad settings or a missing file the user named
    ├── SchemaError            the database schema is behind (run ``finsentry db upgrade``)
    ├── StoreError             the database can't be reached or failed (transient: retry)
    │   └── StoreRejected      the database refused the data itself (retrying won't help)
    ├── BrokerError            the Kafka broker can't be reached or started
    ├── MessageError           one message breaks the contract (goes to the dead-letter topic)
    ├── ModelError             a classifier can't be loaded or run
    └── AlertError             detection or notification failed

Packages raise their own subclass and wrap driver errors with ``raise ... from exc`` so the
cause survives.
"""

from __future__ import annotations


class FinsentryError(Exception):
    """Base class of every error finsentry raises on purpose."""


class ConfigError(FinsentryError):
    """Settings are invalid or a named file is missing."""


class SchemaError(FinsentryError):
    """The database schema does not match this version of finsentry."""


class StoreError(FinsentryError):
    """A database operation failed; as a rule an outage (connection lost, database locked)."""


class StoreRejected(StoreError):
    """The database refused the data (a value out of range, a constraint): not an outage, so
    the consumer isolates the offending record instead of retrying the batch."""


class BrokerError(FinsentryError):
    """The Kafka broker can't be reached or started."""


class MessageError(FinsentryError):
    """A message breaks the news contract; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ModelError(FinsentryError):
    """A classifier can't be loaded or run."""


class AlertError(FinsentryError):
    """Spike detection or notification delivery failed."""
