"""``finsentry bench alerts --e2e``: the number a user would actually get.

A stream is built from the project's own labelled **blind-set** sentences (text the model never
trained on) as article text: ``keys`` watched entities over ``days``, each with a base volume of
4–9 articles per 15 minutes at a true negative share of 8–16 %, syndication bursts (4–10
identical copies of one sentence within minutes, three a day per key), and — on two thirds of
the keys, after the first ``warmup_days`` — two or three planted episodes in which the *true*
negative share at least doubles (×2–4) for 30–180 minutes at ≥ 20 articles per 15 minutes.
Within a key no sentence repeats inside 48 hours except as a planted copy, so story matching
sees what it would see in a real feed.

The stream goes through the embedded broker into the daemon as shipped (the default model,
stories, the clean baseline), and ``finsentry alerts backtest``'s replay over the stored series
finds the episodes. Matching and figures are the synthetic bench's: an alert active between an
episode's start and its end plus one window detects it; one that matches nothing is a false
alarm. JSON: recall, precision, median delay, false alarms per key per day, plus the
classifier's observed confusion on the stream.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

BLIND = Path(__file__).resolve().parents[1] / "models" / "data" / "blind.csv"
SOURCES = ("wire", "newsdesk", "marketfeed", "tradeline", "briefs", "ticker-tape")


@dataclass(frozen=True)
class Planted:
    key: str
    start: datetime
    end: datetime
    factor: float


def _pools(rng: random.Random) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {"negative": [], "neutral": [], "positive": []}
    with BLIND.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            pools[row["label"]].append(row["text"])
    for p in pools.values():
        rng.shuffle(p)
    return pools


def build_stream(
    keys: int, days: float, warmup_days: float, seed: int, end: datetime
) -> tuple[list[dict[str, Any]], list[Planted], dict[str, str]]:
    """Messages (sorted by time), the planted episodes, and each message id's true label."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    pools = _pools(rng)
    start = end - timedelta(days=days)
    minutes = int(days * 1440)
    messages: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    planted: list[Planted] = []
    for k in range(keys):
        ticker = f"EZ{k:02d}"
        key = f"entity:{ticker}"
        rate = rng.uniform(4, 9) / 15
        share = rng.uniform(0.08, 0.16)
        lam = np.full(minutes, rate)
        p = np.full(minutes, share)
        if k % 3 != 2:  # two thirds of the keys are spiky
            first = int(warmup_days * 1440)
            for _ in range(rng.randint(2, 3)):
                for _try in range(50):
                    length = rng.randint(30, 180)
                    s = rng.randint(first, minutes - length - 30)
                    clash = any(
                        abs((start + timedelta(minutes=s) - q.start).total_seconds()) < 8 * 3600
                        for q in planted
                        if q.key == key
                    )
                    if not clash:
                        break
                factor = rng.uniform(2.0, 4.0)
                lam[s : s + length] = np.maximum(lam[s : s + length] * 1.5, 20 / 15)
                p[s : s + length] = min(0.9, share * factor)
                planted.append(
                    Planted(
                        key,
                        start + timedelta(minutes=s),
                        start + timedelta(minutes=s + length),
                        factor,
                    )
                )
        n = nrng.poisson(lam)
        sentence = _Sentences(pools, offset=97 * k)

        seq = 0
        for minute in np.flatnonzero(n):
            for _ in range(int(n[minute])):
                r = rng.random()
                if r < p[minute]:
                    label = "negative"
                else:
                    label = "positive" if rng.random() < 0.3 else "neutral"
                seq += 1
                mid = f"{ticker}-{seq}"
                at = start + timedelta(minutes=int(minute), seconds=rng.randint(0, 59))
                messages.append(_message(mid, sentence(label), ticker, at, rng))
                truth[mid] = label
        for _ in range(int(nrng.poisson(3 * days))):  # syndication bursts
            label = "negative" if rng.random() < share else "neutral"
            text = sentence(label)
            at0 = start + timedelta(minutes=rng.randint(0, minutes - 15))
            for c in range(rng.randint(4, 10)):
                seq += 1
                mid = f"{ticker}-{seq}"
                at = at0 + timedelta(minutes=rng.randint(0, 9), seconds=rng.randint(0, 59))
                messages.append(_message(mid, text, ticker, at, rng, source=SOURCES[c % 6]))
                truth[mid] = label
    messages.sort(key=lambda m: m["published_at"])
    return messages, planted, truth


class _Sentences:
    """One key's draw of blind sentences by label: each pool walked in order from the key's own
    offset, so a key repeats a sentence only after the whole pool (hundreds of sentences)."""

    def __init__(self, pools: dict[str, list[str]], offset: int) -> None:
        self.pools = pools
        self.cursor = dict.fromkeys(pools, offset)

    def __call__(self, label: str) -> str:
        pool = self.pools[label]
        text = pool[self.cursor[label] % len(pool)]
        self.cursor[label] += 1
        return text


def _message(
    mid: str, text: str, ticker: str, at: datetime, rng: random.Random, source: str | None = None
) -> dict[str, Any]:
    return {
        "id": mid,
        "title": text,
        "source": source or rng.choice(SOURCES),
        "published_at": at.isoformat(),
        "tickers": [ticker],
    }


def run(
    keys: int = 6,
    days: float = 3.0,
    warmup_days: float = 1.25,
    seed: int = 0,
    progress: Any = print,
) -> dict[str, Any]:
    from kafka import KafkaProducer

    from alerts.config import AlertSettings
    from consumers.broker import EmbeddedBroker
    from consumers.kafka_io import ensure_topics
    from pipeline.backtest import backtest
    from pipeline.daemon import Daemon
    from pipeline.settings import load_settings
    from pipeline.store import make_engine, upgrade

    t0 = time.perf_counter()
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    messages, planted, truth = build_stream(keys, days, warmup_days, seed, end)
    progress(f"stream: {len(messages)} messages, {keys} keys, {len(planted)} planted episodes")
    tmp = tempfile.TemporaryDirectory(prefix="finsentry-e2e-")
    url = f"sqlite:///{tmp.name}/e2e.db"
    engine = make_engine(url)
    upgrade(engine)
    with EmbeddedBroker() as broker:
        tag = f"e2e{int(time.time())}"
        settings = load_settings(
            None,
            kafka={
                "bootstrap_servers": broker.bootstrap,
                "topic": f"news.{tag}",
                "dlq_topic": f"news.dlq.{tag}",
                "group_id": tag,
                "batch_size": 256,
                "poll_timeout_ms": 300,
            },
            store={"url": url},
            run_alerts=False,
        )
        ensure_topics(settings.kafka, [settings.kafka.topic, settings.kafka.dlq_topic])
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=20)
        for m in messages:
            producer.send(settings.kafka.topic, value=json.dumps(m).encode())
        producer.flush(timeout=120)
        producer.close(timeout=5)
        progress(f"published in {time.perf_counter() - t0:.0f}s; running the daemon")
        stats = Daemon(settings).run(threading.Event(), idle_exit_s=10)
        progress(f"stored {stats.stored} ({time.perf_counter() - t0:.0f}s); backtesting")
    alert_settings = AlertSettings()
    eval_start = end - timedelta(days=days - warmup_days)
    key_names = sorted({f"entity:{m['tickers'][0]}" for m in messages})
    episodes = backtest(engine, alert_settings, eval_start, end, keys=key_names)
    confusion = _observed_confusion(engine, truth)
    engine.dispose()
    tmp.cleanup()
    window = timedelta(minutes=alert_settings.detector.window_min)
    result = _score(planted, episodes, key_names, days - warmup_days, window)
    result |= {
        "messages": len(messages),
        "stored": stats.stored,
        "observed_confusion": confusion,
        "params": {"keys": keys, "days": days, "warmup_days": warmup_days, "seed": seed},
        "runtime_s": round(time.perf_counter() - t0, 1),
    }
    return result


def _observed_confusion(engine: Any, truth: dict[str, str]) -> list[list[int]]:
    from sqlalchemy import select

    from pipeline.store.schema import sentiments

    labels = ["negative", "neutral", "positive"]
    matrix = [[0, 0, 0] for _ in labels]
    with engine.connect() as conn:
        for aid, label in conn.execute(select(sentiments.c.article_id, sentiments.c.label)):
            if aid in truth:
                matrix[labels.index(truth[aid])][labels.index(label)] += 1
    return matrix


def _score(
    planted: list[Planted], episodes: Any, keys: list[str], eval_days: float, window: timedelta
) -> dict[str, Any]:
    detected: list[float] = []
    used: set[int] = set()
    for spike in planted:
        first = None
        for i, ep in enumerate(episodes.itertuples(index=False)):
            last = ep.period_end.to_pydatetime()
            fired = ep.first_fired.to_pydatetime()
            if ep.series_key == spike.key and fired <= spike.end + window and last >= spike.start:
                used.add(i)
                t = max(fired, spike.start)
                first = t if first is None else min(first, t)
        if first is not None:
            detected.append((first - spike.start).total_seconds() / 60)
    false = len(episodes) - len(used)
    return {
        "recall": round(len(detected) / len(planted), 4) if planted else None,
        "precision": round(len(used) / len(episodes), 4) if len(episodes) else None,
        "median_delay_min": float(np.median(detected)) if detected else None,
        "false_alarms_per_key_day": round(false / (len(keys) * eval_days), 4),
        "planted": len(planted),
        "detected": len(detected),
        "episodes": len(episodes),
        "false_alarms": false,
    }
