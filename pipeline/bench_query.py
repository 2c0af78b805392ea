"""``finsentry bench query``: how long a series query takes over 30 days of 1-minute buckets.

Fills a scratch database (a temporary SQLite file, or a fresh schema-less PostgreSQL database
you name with ``--db``, which must be empty) with ``days`` of minute buckets for a handful of
keys, then times :func:`pipeline.query.series` roll-ups the way people call them. Prints one
JSON object.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.query import series
from pipeline.store import make_engine, upgrade
from pipeline.store.engine import redacted
from pipeline.store.schema import sentiment_series


def run(db_url: str | None, days: int = 30, keys: int = 20, repeats: int = 5) -> dict[str, Any]:
    tmp = None
    if db_url is None:
        tmp = tempfile.TemporaryDirectory()
        db_url = f"sqlite:///{tmp.name}/bench.db"
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        start = end - timedelta(days=days)
        rng = random.Random(7)
        names = ["all"] + [f"topic:t{i}" for i in range(keys - 1)]
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for key in names:
                rows = []
                t = start
                while t < end:
                    n = rng.randint(1, 6)
                    neg = rng.randint(0, n)
                    rows.append(
                        {
                            "series_key": key,
                            "bucket_start": t,
                            "n": n,
                            "n_neg": neg,
                            "n_neu": n - neg,
                            "n_pos": 0,
                            "score_sum": -0.5 * neg,
                        }
                    )
                    t += timedelta(minutes=1)
                conn.execute(sentiment_series.insert(), rows)
        fill_s = time.perf_counter() - t0
        results = []
        for every in ("1min", "1h", "1D"):
            times = []
            for _ in range(repeats):
                q0 = time.perf_counter()
                frame = series(engine, "topic:t3", start, end, every=every)
                times.append(time.perf_counter() - q0)
            results.append(
                {
                    "every": every,
                    "rows_out": len(frame),
                    "median_ms": round(1000 * statistics.median(times), 1),
                    "max_ms": round(1000 * max(times), 1),
                }
            )
        return {
            "db": engine.dialect.name,
            "url": redacted(db_url),
            "days": days,
            "keys": keys,
            "buckets_per_key": days * 1440,
            "fill_s": round(fill_s, 1),
            "results": results,
        }
    finally:
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()
