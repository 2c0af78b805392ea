"""``finsentry bench pipeline``: how close the daemon gets to the model's own speed.

On the same ``n`` texts (the bundled sample, cycled, with fresh ids) in one run:

- ``raw_docs_per_s`` — the limit: the configured classifier alone (tokenise + batched forward
  pass) in this process, nothing else running, the best of three passes;
- ``e2e_docs_per_s`` — the daemon as shipped (``finsentry run`` as its own process, default
  model and tagging, no alert scheduler) draining a backlog of ``n`` messages from the embedded
  broker into the store; steady state = the stored count's rate between 10 % and 90 %, so
  model load and group join are not counted;
- ``ratio`` = e2e / raw;
- ``latency_ms`` p50/p95/p99 — publish → stored (the row's ``ingested_at``) for messages
  published at half the e2e rate to a caught-up daemon;
- ``io_ceiling_docs_per_s`` — the same backlog through the daemon with the lexicon classifier
  and keyword topics: what broker, decode, tagging and store allow when no encoder runs;
- ``rss_mb`` — the daemon process's peak resident memory during the e2e run.

For SQLite (a scratch file) and PostgreSQL (a scratch database created and dropped on the
server of ``--pg-admin-url``). With ``daemons=2``, a scale-out figure: two daemons in one
consumer group drain the backlog from a 4-partition topic on PostgreSQL.
This is a benchmark, not a test: the figures depend on the machine and what else runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE = Path(__file__).resolve().parent / "sample" / "news_sample.jsonl"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def sample_articles() -> list[dict[str, Any]]:
    """The bundled sample's well-formed articles (it also holds malformed lines on purpose)."""
    out = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("title"):
            out.append(doc)
    return out


def sample_docs(n: int, tag: str) -> list[dict[str, Any]]:
    """``n`` well-formed sample articles with fresh ids and current times."""
    base = sample_articles()
    now = datetime.now(UTC).isoformat()
    return [{**base[i % len(base)], "id": f"{tag}-{i}", "published_at": now} for i in range(n)]


def raw_rate(model: str, texts: list[str], repeats: int = 3) -> float:
    """docs/s of the configured classifier's batched forward pass (tokenisation included,
    batches of 512 as the daemon's largest) on ``texts``: the best of ``repeats`` passes."""
    from models.config import ModelSettings
    from models.registry import load_classifier

    clf = load_classifier(ModelSettings(name=model))
    clf.classify(texts[:256])  # warm-up
    best = float("inf")
    for _ in range(repeats):  # the best pass: the limit, not the noise of a shared machine
        started = time.perf_counter()
        for i in range(0, len(texts), 512):
            clf.classify(texts[i : i + 512])
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


@contextmanager
def scratch_store(kind: str, pg_admin_url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    from pipeline.store import make_engine, upgrade

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="finsentry-bench-") as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            eng = make_engine(url)
            upgrade(eng)
            eng.dispose()
            yield url
        return
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    name = f"finsentry_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Run:
    """One topic, one group, one store: publish, start daemons, watch the stored count."""

    def __init__(self, bootstrap: str, url: str, model: str, partitions: int = 3) -> None:
        from consumers.config import KafkaSettings
        from consumers.kafka_io import ensure_topics
        from pipeline.store import make_engine

        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        self.kafka = KafkaSettings(
            bootstrap_servers=bootstrap,
            topic=f"bench.{tag}",
            dlq_topic=f"bench.dlq.{tag}",
            group_id=f"bench-{tag}",
        )
        ensure_topics(self.kafka, [self.kafka.topic, self.kafka.dlq_topic], partitions=partitions)
        self.url, self.model = url, model
        self.engine = make_engine(url)
        self.procs: list[subprocess.Popen[bytes]] = []

    def publish(self, docs: list[dict[str, Any]], rate: float | None = None) -> dict[str, float]:
        """Send ``docs`` (at ``rate``/s when given); returns id → send time (epoch s)."""
        from consumers.kafka_io import make_producer

        producer = make_producer(self.kafka)
        sent: dict[str, float] = {}
        t0 = time.monotonic()
        try:
            for i, doc in enumerate(docs):
                if rate:
                    wait = t0 + i / rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    doc = {**doc, "published_at": datetime.now(UTC).isoformat()}
                sent[doc["id"]] = time.time()
                producer.send(self.kafka.topic, value=json.dumps(doc).encode())
            producer.flush(timeout=60)
        finally:
            producer.close(timeout=5)
        return sent

    def start(self, daemons: int = 1) -> None:
        env = {
            **os.environ,
            "FINSENTRY_KAFKA__BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "FINSENTRY_KAFKA__TOPIC": self.kafka.topic,
            "FINSENTRY_KAFKA__DLQ_TOPIC": self.kafka.dlq_topic,
            "FINSENTRY_KAFKA__GROUP_ID": self.kafka.group_id,
            "FINSENTRY_KAFKA__SESSION_TIMEOUT_MS": "10000",
            "FINSENTRY_STORE__URL": self.url,
            "FINSENTRY_MODEL__NAME": self.model,
            "FINSENTRY_RUN_ALERTS": "false",
            "FINSENTRY_LOG_LEVEL": "WARNING",
        }
        if self.model == "lexicon":  # the I/O ceiling: no encoder anywhere, keyword topics
            env["FINSENTRY_TAGGING__TOPIC_MODEL"] = "keywords"
        for _ in range(daemons):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", "run"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )

    def stored(self) -> int:
        from sqlalchemy import func, select

        from pipeline.store.schema import articles

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())

    def wait_for(
        self, n: int, timeout_s: float, on_sample: Callable[[], None] | None = None
    ) -> list[tuple[float, int]]:
        """Sample (time, stored) every 0.2 s until ``n`` are stored; returns the samples."""
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            count = self.stored()
            samples.append((time.monotonic(), count))
            if on_sample is not None:
                on_sample()
            if count >= n:
                return samples
            if any(p.poll() is not None for p in self.procs):
                err = b"".join(p.stderr.read() if p.stderr else b"" for p in self.procs)
                raise RuntimeError(f"a daemon exited early: {err.decode()[-500:]}")
            time.sleep(0.2)
        raise RuntimeError(f"only {samples[-1][1]} of {n} stored within {timeout_s:.0f}s")

    def latencies_ms(self, sent: dict[str, float]) -> list[float]:
        from sqlalchemy import select

        from pipeline.store.schema import articles

        with self.engine.connect() as conn:
            rows = conn.execute(
                select(articles.c.id, articles.c.ingested_at).where(articles.c.id.in_(list(sent)))
            ).all()
        out = []
        for aid, at in rows:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            out.append((at.timestamp() - sent[aid]) * 1000)
        return out

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.engine.dispose()


def steady_rate(samples: list[tuple[float, int]], n: int) -> float:
    """Stored/s between 10 % and 90 % of ``n`` (start-up and tail left out)."""
    lo = next(s for s in samples if s[1] >= 0.1 * n)
    hi = next(s for s in samples if s[1] >= 0.9 * n)
    return (hi[1] - lo[1]) / (hi[0] - lo[0]) if hi[0] > lo[0] else float("nan")


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def drain(
    bootstrap: str,
    url: str,
    model: str,
    docs: list[dict[str, Any]],
    daemons: int = 1,
    partitions: int = 3,
) -> dict[str, float]:
    """Backlog first, then the daemon(s): steady-state stored/s and peak daemon RSS."""
    run = Run(bootstrap, url, model, partitions)
    try:
        run.publish([{**d, "id": f"{run.tag}-{d['id']}"} for d in docs])
        run.start(daemons)
        peak = [0.0]

        def sample() -> None:
            peak[0] = max(peak[0], rss_mb([p.pid for p in run.procs]))

        samples = run.wait_for(len(docs), timeout_s=600, on_sample=sample)
        return {"docs_per_s": steady_rate(samples, len(docs)), "rss_mb": peak[0]}
    finally:
        run.close()


def latency(
    bootstrap: str, url: str, model: str, docs: list[dict[str, Any]], rate: float
) -> dict[str, float]:
    """Publish → stored percentiles at ``rate`` msg/s to a caught-up daemon."""
    run = Run(bootstrap, url, model)
    try:
        run.start(1)
        run.publish([{**docs[0], "id": f"{run.tag}-warm"}])
        run.wait_for(1, timeout_s=300)  # model loaded, group joined
        sent = run.publish([{**d, "id": f"{run.tag}-{d['id']}"} for d in docs], rate=rate)
        run.wait_for(len(docs) + 1, timeout_s=600)
        ms = np.array(run.latencies_ms(sent))
        return {
            "p50": round(float(np.percentile(ms, 50)), 1),
            "p95": round(float(np.percentile(ms, 95)), 1),
            "p99": round(float(np.percentile(ms, 99)), 1),
            "rate_per_s": round(rate, 1),
            "n": len(ms),
        }
    finally:
        run.close()


def run(
    n: int = 4000,
    stores: tuple[str, ...] = ("sqlite", "postgresql"),
    *,
    model: str = "default",
    daemons: int = 1,
    pg_admin_url: str = PG_ADMIN_URL,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    from consumers.broker import EmbeddedBroker

    docs = sample_docs(n, "d")
    texts = ["\n".join(x for x in (d.get("title"), d.get("body")) if x) for d in docs]
    raw = raw_rate(model, texts)
    progress(f"raw forward pass: {raw:.0f} docs/s")
    out: dict[str, Any] = {"n": n, "model": model, "cpus": os.cpu_count(), "stores": {}}
    with EmbeddedBroker() as broker:
        for kind in stores:
            with scratch_store(kind, pg_admin_url) as url:
                e2e = drain(broker.bootstrap, url, model, docs)
            progress(f"{kind}: e2e {e2e['docs_per_s']:.0f} docs/s, rss {e2e['rss_mb']:.0f} MB")
            with scratch_store(kind, pg_admin_url) as url:
                ceiling = drain(broker.bootstrap, url, "lexicon", docs)
            progress(f"{kind}: lexicon e2e {ceiling['docs_per_s']:.0f} docs/s")
            with scratch_store(kind, pg_admin_url) as url:
                half = e2e["docs_per_s"] / 2
                lat = latency(broker.bootstrap, url, model, docs[: n // 2], half)
            progress(f"{kind}: latency {lat}")
            out["stores"][kind] = {
                "raw_docs_per_s": round(raw, 1),
                "e2e_docs_per_s": round(e2e["docs_per_s"], 1),
                "ratio": round(e2e["docs_per_s"] / raw, 3),
                "latency_ms": lat,
                "io_ceiling_docs_per_s": round(ceiling["docs_per_s"], 1),
                "rss_mb": round(e2e["rss_mb"], 1),
            }
        if daemons > 1 and "postgresql" in stores:
            out["scale_out"] = scale_out(
                broker.bootstrap, pg_admin_url, model, docs, daemons, progress
            )
    out["rss_mb"] = max(s["rss_mb"] for s in out["stores"].values()) if out["stores"] else None
    return out


def scale_out(
    bootstrap: str,
    pg_admin_url: str,
    model: str,
    docs: list[dict[str, Any]],
    daemons: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """``daemons`` in one group vs one, same backlog, 4 partitions, PostgreSQL."""
    rates = {}
    for k in (1, daemons):
        with scratch_store("postgresql", pg_admin_url) as url:
            rates[k] = drain(bootstrap, url, model, docs, daemons=k, partitions=4)
        progress(f"scale-out: {k} daemon(s) {rates[k]['docs_per_s']:.0f} docs/s")
    return {
        "daemons": daemons,
        "partitions": 4,
        "one_docs_per_s": round(rates[1]["docs_per_s"], 1),
        "many_docs_per_s": round(rates[daemons]["docs_per_s"], 1),
        "speedup": round(rates[daemons]["docs_per_s"] / rates[1]["docs_per_s"], 3),
        "rss_mb_all_daemons": round(rates[daemons]["rss_mb"], 1),
    }
