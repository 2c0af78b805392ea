"""Query the store from Python: sentiment series as pandas DataFrames.

Series are stored in 1-minute buckets and rolled up at query time with ``resample``, anchored
at the Unix epoch so 1h and 1d buckets start on UTC hour and day boundaries.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from pipeline.errors import ConfigError
from pipeline.store.schema import sentiment_series

SERIES_COLUMNS = ["n", "n_neg", "n_neu", "n_pos", "score_sum"]


def require_key(engine: Engine, key: str) -> None:
    """Raise :class:`ConfigError` unless ``key`` names a stored series (``all`` always does),
    suggesting the closest stored keys: a typo must not read as "no news"."""
    key = key.strip()
    if key == "all":
        return
    if not key:
        raise ConfigError("empty series key: use all, source:X, topic:X, entity:X[/topic:Y]")
    with engine.connect() as conn:
        found = conn.execute(
            select(sentiment_series.c.series_key)
            .where(sentiment_series.c.series_key == key)
            .limit(1)
        ).first()
        if found is not None:
            return
        stored = list(conn.execute(select(sentiment_series.c.series_key).distinct()).scalars())
    close = difflib.get_close_matches(key, stored, n=3, cutoff=0.5) or difflib.get_close_matches(
        key.lower(), [k.lower() for k in stored], n=3, cutoff=0.5
    )
    hint = f"; closest: {', '.join(close)}" if close else "; `finsentry keys` lists them"
    raise ConfigError(f"no series {key!r} in the store{hint}")


def series(
    engine: Engine,
    key: str = "all",
    since: datetime | None = None,
    until: datetime | None = None,
    every: str = "1min",
    fill: bool = True,
) -> pd.DataFrame:
    """One series key as a DataFrame indexed by bucket start (UTC).

    Columns: n, n_neg, n_neu, n_pos, score_sum, neg_share, mean_score. ``every`` is a pandas
    frequency (``1min``, ``5min``, ``1h``, ``1D``). With ``fill``, empty buckets between
    ``since`` and ``until`` appear as zero rows.
    """
    until = until or datetime.now(UTC)
    cols = [sentiment_series.c.bucket_start, *(sentiment_series.c[c] for c in SERIES_COLUMNS)]
    stmt = select(*cols).where(sentiment_series.c.series_key == key)
    if since is not None:
        stmt = stmt.where(sentiment_series.c.bucket_start >= since)
    stmt = stmt.where(sentiment_series.c.bucket_start < until).order_by(
        sentiment_series.c.bucket_start
    )
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(stmt)]  # plain tuples: 5x cheaper than mappings
    frame = pd.DataFrame(rows, columns=["bucket_start", *SERIES_COLUMNS])
    frame["bucket_start"] = pd.to_datetime(frame["bucket_start"], utc=True)
    frame = frame.set_index("bucket_start")[SERIES_COLUMNS].astype(
        {"n": "int64", "n_neg": "int64", "n_neu": "int64", "n_pos": "int64", "score_sum": "float64"}
    )
    # Day-sized buckets already start at UTC midnight (the index is UTC); smaller ones are
    # anchored at the epoch so hours and minutes line up across queries.
    is_days = isinstance(pd.tseries.frequencies.to_offset(every), pd.offsets.Day)
    origin = "start_day" if is_days else "epoch"
    rolled = frame.resample(every, origin=origin, label="left", closed="left").sum()
    if fill and since is not None:
        full = pd.date_range(
            pd.Timestamp(since).floor(every), pd.Timestamp(until), freq=every, inclusive="left"
        )
        if len(full):
            rolled = rolled.reindex(full.union(pd.DatetimeIndex(rolled.index)), fill_value=0)
            rolled = rolled[rolled.index < pd.Timestamp(until)]
    rolled.index.name = "bucket_start"
    rolled = rolled.astype({c: "int64" for c in SERIES_COLUMNS[:4]})
    n = rolled["n"].where(rolled["n"] > 0)
    rolled["neg_share"] = (rolled["n_neg"] / n).fillna(0.0)
    rolled["mean_score"] = (rolled["score_sum"] / n).fillna(0.0)
    return rolled


def articles(
    engine: Engine,
    key: str = "all",
    since: datetime | None = None,
    until: datetime | None = None,
    label: str | None = None,
    limit: int = 50,
    stories: bool = False,
    explain: Callable[[Sequence[str]], Mapping[str, list[list[object]]]] | None = None,
) -> pd.DataFrame:
    """The articles behind a series point, newest first, with their current sentiment.

    ``key`` uses the series grammar (``all``, ``source:X``, ``topic:X``, ``entity:X``,
    ``entity:X/topic:Y``). Columns: id, published_at, source, title, url, label, score, p_neg,
    p_neu, p_pos, model_version, explanation, story_id, copies. With ``stories``, one row per
    story (its newest article) and ``copies`` = how many of its articles matched.
    """
    from sqlalchemy import and_, func

    from pipeline.store.schema import article_entities, article_topics, articles, sentiments

    cols = [
        articles.c.id,
        articles.c.published_at,
        articles.c.source,
        articles.c.title,
        articles.c.url,
        sentiments.c.label,
        sentiments.c.score,
        sentiments.c.p_neg,
        sentiments.c.p_neu,
        sentiments.c.p_pos,
        sentiments.c.model_version,
        sentiments.c.explanation,
        articles.c.story_id,
    ]
    stmt = select(*cols).join(
        sentiments, and_(sentiments.c.article_id == articles.c.id, sentiments.c.is_current)
    )
    for part in key.split("/"):
        kind, _, value = part.partition(":")
        if kind == "all" and not value:
            continue
        if kind == "source":
            stmt = stmt.where(func.lower(articles.c.source) == value.lower())
        elif kind == "topic":
            t = article_topics.alias(f"t_{len(value)}")
            stmt = stmt.join(t, and_(t.c.article_id == articles.c.id, t.c.topic == value))
        elif kind == "entity":
            e = article_entities.alias(f"e_{len(value)}")
            stmt = stmt.join(e, and_(e.c.article_id == articles.c.id, e.c.entity_id == value))
        else:
            from pipeline.errors import ConfigError

            raise ConfigError(
                f"unknown series key {key!r}: use all, source:X, topic:X, entity:X[/topic:Y]"
            )
    if since is not None:
        stmt = stmt.where(articles.c.published_at >= since)
    if until is not None:
        stmt = stmt.where(articles.c.published_at < until)
    if label is not None:
        stmt = stmt.where(sentiments.c.label == label)
    fetch = limit * 10 if stories else limit  # copies collapse: read deeper, keep `limit`
    stmt = stmt.order_by(articles.c.published_at.desc(), articles.c.id).limit(fetch)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(rows, columns=[c.name for c in cols])
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    story = frame["story_id"].where(frame["story_id"].notna(), frame["id"])
    frame["copies"] = story.map(story.value_counts()).astype("int64")
    if stories:
        frame = frame[~story.duplicated()].head(limit).reset_index(drop=True)
    if explain is not None:
        _fill_explanations(frame, explain)
    return frame


def _fill_explanations(
    frame: pd.DataFrame, explain: Callable[[Sequence[str]], Mapping[str, list[list[object]]]]
) -> None:
    """Explanations for the rows stored without one (``pipeline.explanations``: computed
    once, on first show, then stored)."""
    if frame.empty:
        return
    pairs = list(zip(frame["id"], frame["explanation"], strict=True))
    missing = [str(i) for i, e in pairs if not isinstance(e, list)]  # None or NaN
    if not missing:
        return
    got = explain(missing)
    filled = [e if isinstance(e, list) else got.get(str(i)) for i, e in pairs]
    frame["explanation"] = pd.Series(filled, index=frame.index, dtype=object)


def top_negative(
    engine: Engine,
    key: str,
    start: datetime,
    end: datetime,
    k: int = 5,
    explain: Callable[[Sequence[str]], Mapping[str, list[list[object]]]] | None = None,
) -> list[dict[str, object]]:
    """The ``k`` most negative articles behind ``key`` in ``[start, end)``, JSON-ready, with
    the words that drove them: the evidence an alert carries. With ``explain`` (see
    :func:`pipeline.explanations.explainer`) the ``k`` shown articles missing an explanation
    get one, computed and stored now."""
    frame = articles(engine, key, start, end, label="negative", limit=500)
    frame = frame.sort_values(["score", "id"])
    story = frame["story_id"].where(frame["story_id"].notna(), frame["id"])
    frame = frame[~story.duplicated()].head(k)  # distinct stories: the most negative copy
    if explain is not None:
        frame = frame.copy()
        _fill_explanations(frame, explain)
    records: list[dict[Any, Any]] = frame.to_dict("records")
    return [
        {
            "id": r["id"],
            "title": r["title"],
            "source": r["source"],
            "published_at": r["published_at"].isoformat(),
            "score": round(float(r["score"]), 4),
            "explanation": r["explanation"] or [],
            "copies": int(r["copies"]),
        }
        for r in records
    ]
