"""Series keys and buckets: which time series an article counts in, and where.

Keys: ``all``, ``source:<name>``, ``topic:<id>``, ``entity:<id>`` and
``entity:<id>/topic:<id>``. Names are lower-cased for sources and topics; entity ids keep the
watchlist's spelling. Buckets are 1-minute, UTC, by the article's publication time; a timestamp
in the future (crawler clock skew) is clamped to the ingestion time so it can't land in a window
that has not happened yet.
"""

from __future__ import annotations

from datetime import datetime

from consumers.records import ScoredArticle

ALL = "all"


def source_key(source: str) -> str:
    return f"source:{source.strip().lower()}"


def topic_key(topic: str) -> str:
    return f"topic:{topic.strip().lower()}"


def entity_key(entity_id: str) -> str:
    return f"entity:{entity_id.strip()}"


def keys_for(item: ScoredArticle, entity_topic: bool = True) -> list[str]:
    keys = [ALL]
    if item.article.source and item.article.source.strip():
        keys.append(source_key(item.article.source))
    topics = [t for t, _ in item.topics]
    keys.extend(topic_key(t) for t in topics)
    for ent in item.entities:
        keys.append(entity_key(ent))
        if entity_topic:
            keys.extend(f"{entity_key(ent)}/{topic_key(t)}" for t in topics)
    return sorted(set(keys))


def bucket_of(published_at: datetime, ingested_at: datetime) -> datetime:
    ts = min(published_at, ingested_at)
    return ts.replace(second=0, microsecond=0)
