"""One error family for finsentry.

::

    FinsentryError
    ├── ConfigError            bad settings or a missing file the user named
    ├── SchemaError            the database schema is behind (run ``finsentry db upgrade``)
    ├── StoreError             a database operation failed (driver error kept as __cause__)
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
    """A database operation failed."""


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
