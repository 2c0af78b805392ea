"""Tables. The schema changes only through Alembic migrations in ``migrations/``; tests run
``upgrade head`` then ``alembic check`` so this file and the migrations never drift apart."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from pipeline.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

articles = Table(
    "articles",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("source", String(200), nullable=True),
    Column("url", Text, nullable=True),
    Column("title", Text, nullable=True),
    # The stored lead of the body; cleared by text retention while the row and series stay.
    Column("body", Text, nullable=True),
    Column("lang", String(16), nullable=True),
    Column("tickers", JSON, nullable=True),
    Column("published_at", UTCDateTime, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("kafka_topic", String(255), nullable=True),
    Column("kafka_partition", Integer, nullable=True),
    Column("kafka_offset", BigInteger, nullable=True),
    # syndicated copies and near-copies of one story share it (pipeline/stories.py)
    Column("story_id", String(64), nullable=True),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_story_id", "story_id"),
)

# One row per story: its first sighting, its normalised text (to verify near matches) and the
# MinHash bands its copies are looked up by.
stories = Table(
    "stories",
    metadata,
    Column("story_id", String(64), primary_key=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
    *(Column(f"band{i}", Integer, nullable=False) for i in range(8)),
    Index("ix_stories_first_seen", "first_seen"),
    *(Index(f"ix_stories_band{i}", f"band{i}") for i in range(8)),
)

# Which series each story has been counted in: a story moves a key's story counts once, at its
# first article that carries the key, however many copies follow.
story_keys = Table(
    "story_keys",
    metadata,
    Column("story_id", String(64), primary_key=True),
    Column("series_key", String(300), primary_key=True),
)

sentiments = Table(
    "sentiments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "article_id", String(200), ForeignKey("articles.id", ondelete="CASCADE"), nullable=False
    ),
    Column("model_version", String(200), nullable=False),
    Column("label", String(16), nullable=False),
    Column("p_neg", Float, nullable=False),
    Column("p_neu", Float, nullable=False),
    Column("p_pos", Float, nullable=False),
    Column("score", Float, nullable=False),
    # (token, weight) pairs that drove the label; stored for negative articles.
    Column("explanation", JSON, nullable=True),
    # The row the series counts; rescoring flips it to the new model version.
    Column("is_current", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("article_id", "model_version", name="uq_sentiments_article_model"),
    Index("ix_sentiments_current", "article_id", "is_current"),
)

article_topics = Table(
    "article_topics",
    metadata,
    Column(
        "article_id",
        String(200),
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("topic", String(100), primary_key=True),
    Column("score", Float, nullable=True),
    Index("ix_article_topics_topic", "topic"),
)

article_entities = Table(
    "article_entities",
    metadata,
    Column(
        "article_id",
        String(200),
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("entity_id", String(100), primary_key=True),
    Index("ix_article_entities_entity_id", "entity_id"),
)

sentiment_series = Table(
    "sentiment_series",
    metadata,
    Column("series_key", String(300), primary_key=True),
    Column("bucket_start", UTCDateTime, primary_key=True),
    Column("n", Integer, nullable=False, default=0),
    Column("n_neg", Integer, nullable=False, default=0),
    Column("n_neu", Integer, nullable=False, default=0),
    Column("n_pos", Integer, nullable=False, default=0),
    Column("score_sum", Float, nullable=False, default=0.0),
    # the same counts over distinct stories (a story counts once per key, at its first article)
    Column("s_n", Integer, nullable=False, default=0, server_default="0"),
    Column("s_neg", Integer, nullable=False, default=0, server_default="0"),
    Column("s_neu", Integer, nullable=False, default=0, server_default="0"),
    Column("s_pos", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_sentiment_series_bucket_start", "bucket_start"),
)

# -- alerts ---------------------------------------------------------------------------------
# One row per episode: fingerprint = "<rule>:<series_key>"; at most one open (firing) alert per
# fingerprint, enforced by a partial unique index so two detectors can never open the same one.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(400), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("series_key", String(300), nullable=False),
    Column("status", String(16), nullable=False),  # firing | resolved
    Column("started_at", UTCDateTime, nullable=False),  # window start of the first firing
    Column("last_fired_at", UTCDateTime, nullable=False),  # last evaluation that fired
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("normal_streak", Integer, nullable=False, default=0),
    Column("acked_at", UTCDateTime, nullable=True),
    Column("acked_by", String(200), nullable=True),
    Column("last_notified_at", UTCDateTime, nullable=True),
    Column("evidence", JSON, nullable=False),  # observed vs baseline, statistic, top articles
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_alerts_series_key", "series_key"),
    Index("ix_alerts_status", "status"),
    Index(
        "uq_alerts_open_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=Column("status") == "firing",
        postgresql_where=Column("status") == "firing",
    ),
)

# The outbox: written in the alert's transaction, delivered by the notifier job with retries.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(100), nullable=False),
    Column("event", String(16), nullable=False),  # firing | repeat | resolved
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_notifications_due", "status", "next_attempt_at"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # {"series_key": "entity:ACME*", "rule": "neg_spike"}: glob patterns, all must match
    Column("matchers", JSON, nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_by", String(200), nullable=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_silences_ends_at", "ends_at"),
)

# A named lease with expiry: exactly one detector/deliverer active across daemons.
leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
)
