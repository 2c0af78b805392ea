"""The store seam the consumer writes through (implemented by ``pipeline.store.SqlStore``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from consumers.records import ScoredArticle


class ArticleSink(Protocol):
    """Writes a batch atomically: all of it or none of it.

    Returns the ids that were new; re-delivered ids are ignored (idempotent on article id), and
    only new articles move the series.
    """

    def write_batch(self, items: Sequence[ScoredArticle]) -> list[str]: ...
