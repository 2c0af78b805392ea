"""``finsentry bench soak``: the daemon as shipped, fed at a steady rate with poison mixed in.

A producer thread publishes the bundled sample articles (fresh ids, current timestamps) at
``rate`` messages/s for ``minutes``, replacing a small fraction with malformed messages of
several kinds. The daemon runs as its own process (default model, an embedded broker and a
scratch SQLite file unless given), and every ``sample_s`` seconds the benchmark records its RSS
and its lag — messages published but neither stored nor dead-lettered. At the end it stops
the daemon with SIGTERM and prints one JSON line: RSS start/end/max, lag start/end/max and the
lag slope over the second half (≈ 0 at a sustainable rate), errors logged, DLQ count, exit.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.bench_pipeline import sample_articles

POISON = (
    b"{not json",
    b'{"title": "caf\xe9 \xff"}',
    b'["an", "array"]',
    b'{"id": "p", "title": "old", "published_at": "1850-01-01T00:00:00Z"}',
    b'{"id": "q"}',
)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    den = sum((p[0] - mx) ** 2 for p in points)
    return sum((p[0] - mx) * (p[1] - my) for p in points) / den if den else 0.0


def run(
    minutes: float,
    rate: float,
    *,
    poison_fraction: float = 0.02,
    sample_s: float = 5.0,
    db_url: str | None = None,
    model: str = "default",
) -> dict[str, Any]:
    from kafka import KafkaConsumer, TopicPartition
    from sqlalchemy import func, select

    from consumers.broker import EmbeddedBroker
    from consumers.config import KafkaSettings
    from consumers.kafka_io import ensure_topics, make_producer
    from pipeline.store import make_engine, upgrade
    from pipeline.store.schema import articles

    base = sample_articles()
    tmp = tempfile.TemporaryDirectory(prefix="finsentry-soak-")
    db_url = db_url or f"sqlite:///{tmp.name}/soak.db"
    engine = make_engine(db_url)
    upgrade(engine)
    tag = f"{os.getpid()}-{int(time.time())}"
    with EmbeddedBroker() as broker:
        kafka = KafkaSettings(
            bootstrap_servers=broker.bootstrap,
            topic=f"news.soak.{tag}",
            dlq_topic=f"news.soak.dlq.{tag}",
            group_id=f"soak-{tag}",
        )
        ensure_topics(kafka, [kafka.topic, kafka.dlq_topic])
        env = {
            **os.environ,
            "FINSENTRY_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "FINSENTRY_KAFKA__TOPIC": kafka.topic,
            "FINSENTRY_KAFKA__DLQ_TOPIC": kafka.dlq_topic,
            "FINSENTRY_KAFKA__GROUP_ID": kafka.group_id,
            "FINSENTRY_STORE__URL": db_url,
            "FINSENTRY_MODEL__NAME": model,
            "FINSENTRY_RUN_ALERTS": "false",
        }
        log_path = Path(tmp.name) / "daemon.log"
        with log_path.open("wb") as log_fh:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "run"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log_fh,
            )
            produced = [0]
            stop = threading.Event()

            def publish() -> None:
                producer = make_producer(kafka)
                rng = random.Random(7)
                t0 = time.monotonic()
                i = 0
                try:
                    while not stop.is_set() and time.monotonic() - t0 < minutes * 60:
                        if rng.random() < poison_fraction:
                            value = POISON[i % len(POISON)]
                        else:
                            doc = dict(base[i % len(base)])
                            doc["id"] = f"soak-{tag}-{i}"
                            doc["published_at"] = datetime.now(UTC).isoformat()
                            value = json.dumps(doc).encode()
                        producer.send(kafka.topic, value=value)
                        i += 1
                        produced[0] = i
                        wait = t0 + i / rate - time.monotonic()
                        if wait > 0:
                            stop.wait(wait)
                    producer.flush(timeout=30)
                finally:
                    producer.close(timeout=5)

            dlq_reader = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)

            def dead_lettered() -> int:
                parts = dlq_reader.partitions_for_topic(kafka.dlq_topic) or set()
                tps = [TopicPartition(kafka.dlq_topic, p) for p in parts]
                return int(sum(dlq_reader.end_offsets(tps).values())) if tps else 0

            def stored() -> int:
                with engine.connect() as conn:
                    return int(
                        conn.execute(select(func.count()).select_from(articles)).scalar_one()
                    )

            started = time.monotonic()
            pub = threading.Thread(target=publish, daemon=True)
            pub.start()
            samples: list[dict[str, float]] = []
            try:
                while pub.is_alive() and daemon.poll() is None:
                    time.sleep(sample_s)
                    done = stored() + dead_lettered()
                    samples.append(
                        {
                            "t": round(time.monotonic() - started, 1),
                            "lag": max(0, produced[0] - done),
                            "rss_mb": _rss_mb(daemon.pid),
                        }
                    )
                drain_deadline = time.monotonic() + 120  # let the daemon catch up
                while time.monotonic() < drain_deadline and daemon.poll() is None:
                    if stored() + dead_lettered() >= produced[0]:
                        break
                    time.sleep(1)
                final_stored, final_dlq = stored(), dead_lettered()
            finally:
                stop.set()
                t_term = time.monotonic()
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                sigterm_s = time.monotonic() - t_term
                dlq_reader.close()
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    engine.dispose()
    tmp.cleanup()
    half = [(s["t"], s["lag"]) for s in samples[len(samples) // 2 :]]
    rss = [s["rss_mb"] for s in samples if s["rss_mb"]]
    lags = [s["lag"] for s in samples]
    return {
        "minutes": minutes,
        "rate_per_s": rate,
        "model": model,
        "produced": produced[0],
        "stored": final_stored,
        "dead_lettered": final_dlq,
        "unaccounted": produced[0] - final_stored - final_dlq,
        "lag": {
            "start": lags[0] if lags else 0,
            "end": lags[-1] if lags else 0,
            "max": max(lags) if lags else 0,
            "slope_per_min_second_half": round(_slope(half) * 60, 2),
        },
        "rss_mb": {
            "start": rss[0] if rss else 0,
            "end": rss[-1] if rss else 0,
            "max": max(rss) if rss else 0,
        },
        "errors_logged": log_text.count(" ERROR "),
        "tracebacks": log_text.count("Traceback"),
        "daemon_exit": daemon.returncode,
        "sigterm_s": round(sigterm_s, 2),
        "samples": samples,
    }
