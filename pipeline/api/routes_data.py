"""Read routes over the series: keys, series points, and the stories behind a point.

Each route parses its parameters the way the CLI does (``24h``, ``7d``, ISO-8601; bucket sizes
``5m`` or pandas ``5min``) and calls the CLI's own query function — ``maintenance.keys``,
``query.series``, ``query.articles`` — then only reshapes the frame into JSON.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query

from pipeline.api.context import ApiContext, context
from pipeline.api.models import ArticleOut, ArticlesOut, KeyOut, KeysOut, PointOut, SeriesOut
from pipeline.errors import ConfigError
from pipeline.maintenance import keys as query_keys
from pipeline.query import articles as query_articles
from pipeline.query import require_key
from pipeline.query import series as query_series
from pipeline.timeparse import pandas_freq, parse_instant

router = APIRouter(prefix="/api", tags=["series"])
Ctx = Annotated[ApiContext, Depends(context)]
MAX_POINTS = 20_000  # one response; a year of 1-minute buckets is a mistake, not a chart


def bucket(every: str) -> str:
    """``5m``/``1h``/``1d`` as the CLI takes them, or a pandas frequency (``5min``, ``1D``)
    of whole minutes; returned as the pandas frequency."""
    try:
        return pandas_freq(every)
    except ConfigError:
        pass
    try:
        offset = pd.tseries.frequencies.to_offset(every)
        td = pd.Timedelta(offset.nanos, unit="ns")  # ValueError unless fixed-width
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not a bucket size: {every!r} (use e.g. 1min, 5min, 1h, 1D)") from exc
    if td < pd.Timedelta(minutes=1) or td % pd.Timedelta(minutes=1):
        raise ConfigError(f"bucket size {every!r} must be whole minutes (series are per minute)")
    return every


def window(since: str, until: str | None) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    start = parse_instant(since, now)
    end = parse_instant(until, now) if until else now
    if start >= end:
        raise ConfigError("since must be before until")
    return start, end


def _known_key(ctx: ApiContext, key: str) -> None:
    try:
        require_key(ctx.engine, key)
    except ConfigError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


def key_kind(key: str) -> str:
    return "/".join(part.partition(":")[0] for part in key.split("/"))


def _dt(v: Any) -> datetime | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).to_pydatetime()


@router.get("/keys", response_model=KeysOut, summary="series keys with their volumes")
def get_keys(
    ctx: Ctx,
    prefix: Annotated[str | None, Query(description="topic:, entity:, source: …")] = None,
    since: Annotated[str, Query(description="count volume since (24h, 7d, ISO)")] = "30d",
) -> KeysOut:
    frame = query_keys(ctx.engine, parse_instant(since), prefix or None)
    return KeysOut(
        keys=[
            KeyOut(
                key=str(key),
                kind=key_kind(str(key)),
                n=int(r["n"]),
                n_neg=int(r["n_neg"]),
                stories=int(r["stories"]),
                neg_share=float(r["neg_share"]),
                first=_dt(r["first"]),
                last=_dt(r["last"]),
            )
            for key, r in frame.iterrows()
        ]
    )


@router.get("/series", response_model=SeriesOut, summary="one key's sentiment over time")
def get_series(
    ctx: Ctx,
    key: str = "all",
    since: Annotated[str, Query(description="24h, 7d or ISO-8601")] = "24h",
    until: Annotated[str | None, Query(description="default now")] = None,
    every: Annotated[str, Query(description="bucket: 1min, 5min, 1h, 1D (or 5m, 1d)")] = "5min",
) -> SeriesOut:
    freq = bucket(every)
    start, end = window(since, until)
    if (end - start) / pd.Timedelta(freq) > MAX_POINTS:
        raise ConfigError(f"more than {MAX_POINTS} buckets: use a larger every or a shorter span")
    _known_key(ctx, key)
    frame = query_series(ctx.engine, key, start, end, every=freq)
    records: list[dict[Any, Any]] = frame.reset_index().to_dict("records")
    points = [
        PointOut(
            t=r["bucket_start"].to_pydatetime(),
            n=int(r["n"]),
            n_neg=int(r["n_neg"]),
            n_neu=int(r["n_neu"]),
            n_pos=int(r["n_pos"]),
            neg_share=round(float(r["neg_share"]), 6),
            mean_score=round(float(r["mean_score"]), 6),
        )
        for r in records
    ]
    return SeriesOut(key=key, every=freq, since=start, until=end, points=points)


def _num(v: Any) -> float:
    f = float(v)
    return f if math.isfinite(f) else 0.0


@router.get("/articles", response_model=ArticlesOut, summary="the stories behind a point")
def get_articles(
    ctx: Ctx,
    key: str = "all",
    since: Annotated[str, Query(description="a point's t, or 24h, 7d")] = "24h",
    until: Annotated[str | None, Query(description="t + every; default now")] = None,
    label: Literal["negative", "neutral", "positive"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    stories: Annotated[bool, Query(description="one row per story, with copies")] = True,
) -> ArticlesOut:
    start, end = window(since, until)
    _known_key(ctx, key)
    explain = ctx.explainer()
    frame = query_articles(
        ctx.engine, key, start, end, label=label, limit=limit, stories=stories, explain=explain
    )
    out = []
    for r in frame.to_dict("records"):
        expl = r["explanation"] if isinstance(r["explanation"], list) else []
        out.append(
            ArticleOut(
                id=str(r["id"]),
                published_at=r["published_at"].to_pydatetime(),
                source=r["source"],
                title=r["title"],
                url=r.get("url"),
                label=str(r["label"]),
                score=_num(r["score"]),
                p_neg=_num(r["p_neg"]),
                p_neu=_num(r["p_neu"]),
                p_pos=_num(r["p_pos"]),
                model_version=str(r["model_version"]),
                explanation=[str(t[0]) for t in expl],
                explanation_weights=[round(_num(t[1]), 4) for t in expl],
                story_id=r["story_id"],
                copies=int(r["copies"]),
            )
        )
    return ArticlesOut(articles=out)
