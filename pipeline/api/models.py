"""Request and response bodies of the HTTP API (pydantic): the OpenAPI schema at ``/docs``
is generated from these, and every response is validated against them on the way out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    error: str = Field(description="one line, never a stack trace")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    store: bool = Field(description="the database answers")
    schema_current: bool = Field(description="its schema is the one this finsentry needs")
    broker: bool | None = Field(description="Kafka reachable (null: not consuming, serve mode)")
    lease_holder: str | None = Field(description="process holding the detector lease")
    consumer_lag: int | None = Field(description="records behind, over all partitions")
    model_version: str | None = Field(description="classifier version scoring new articles")
    mode: Literal["serve", "run"]


class KeyOut(BaseModel):
    key: str
    kind: str = Field(description="all, topic, entity, source or entity/topic")
    n: int = Field(description="articles")
    n_neg: int = Field(description="negative articles")
    stories: int = Field(description="distinct stories")
    neg_share: float
    first: datetime | None
    last: datetime | None


class KeysOut(BaseModel):
    keys: list[KeyOut]


class PointOut(BaseModel):
    t: datetime = Field(description="bucket start (UTC)")
    n: int
    n_neg: int
    n_neu: int
    n_pos: int
    neg_share: float
    mean_score: float


class SeriesOut(BaseModel):
    key: str
    every: str = Field(description="bucket size as a pandas frequency")
    since: datetime
    until: datetime
    points: list[PointOut]


class ArticleOut(BaseModel):
    id: str
    published_at: datetime
    source: str | None
    title: str | None
    url: str | None = None
    label: str
    score: float
    p_neg: float
    p_neu: float
    p_pos: float
    model_version: str
    explanation: list[str] = Field(description="the words behind the label, strongest first")
    explanation_weights: list[float]
    story_id: str | None
    copies: int = Field(description="articles of this story in the window")


class ArticlesOut(BaseModel):
    articles: list[ArticleOut]


class NotificationOut(BaseModel):
    channel: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    delivered_at: datetime | None


class AlertOut(BaseModel):
    id: int
    rule: str
    series_key: str
    state: Literal["firing", "resolved"]
    opened_at: datetime = Field(description="start of the window that first fired")
    last_fired_at: datetime
    resolved_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    observed: float | None = Field(description="negative share in the alert window")
    baseline: float | None = Field(description="negative share of the baseline")
    p_value: float | None
    lift: float | None
    n: int | None = Field(description="articles (or stories) in the window")
    n_neg: int | None
    window_start: datetime | None
    window_end: datetime | None
    evidence: dict[str, Any] = Field(description="detector numbers, top articles, top words")


class AlertDetailOut(AlertOut):
    top_articles: list[dict[str, Any]]
    top_words: list[str]
    notifications: list[NotificationOut]


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=200, description="who acknowledges")


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: dict[str, str] = Field(
        description='glob patterns, all must match: {"series_key": "entity:ACME*", "rule": ...}'
    )
    duration: str = Field(default="2h", description="how long: 30m, 2h, 1d")
    comment: str | None = Field(default=None, max_length=2000)
    by: str | None = Field(default=None, max_length=200)


class SilenceOut(BaseModel):
    id: int
    matchers: dict[str, str]
    comment: str | None
    created_by: str | None
    starts_at: datetime
    ends_at: datetime
    active: bool


class SilencesOut(BaseModel):
    silences: list[SilenceOut]
