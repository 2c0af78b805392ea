"""``make demo``: the whole product, live, on one machine.

What a person sees: the embedded broker and a SQLite store start, the daemon starts with its
HTTP API and dashboard (the URL is printed first, so the page can be opened while the rest
happens), four days of bundled history are published and a progress bar follows the store
catching up, then the stream keeps flowing — recent sample articles re-published "now" at a
speed-up — and, while you watch, the planted episode breaks: a burst of negative Acme
headlines. When the daemon's detector fires on ``entity:ACME`` the alert is printed with its
evidence, a PNG of the key is drawn with ``finsentry plot``'s renderer, and the stream goes on
until Ctrl-C. With ``--seconds N`` (``make demo DEMO_SECONDS=240``) it ends by itself: exit 0
once the alert has fired, 1 if the time ran out first.

Why the orchestration is Python and not shell: one loop owns the clock (what to publish when,
what to poll when), and one ``finally`` owns shutdown — the daemon gets SIGTERM and is waited
for, then the broker is stopped — whether the demo ends, fails or is interrupted. The daemon
and broker run in their own sessions so that Ctrl-C reaches only this process, which then
stops them in that order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from consumers.broker import EmbeddedBroker, free_port
from consumers.contract import decode
from consumers.kafka_io import ensure_topics, make_producer
from consumers.produce import publish, rebase_times
from pipeline.display import terminal_safe
from pipeline.errors import FinsentryError
from pipeline.settings import Settings, load_settings
from pipeline.store import make_engine, upgrade
from pipeline.store.schema import articles

SAMPLE = Path(__file__).parent / "sample" / "news_sample.jsonl"
DATA = Path("finsentry-data")
SPIKE_KEY = "entity:ACME"
BREAKING_MIN = 11  # the sample's last 11 minutes of Acme news are the planted episode
FILLER_SPEEDUP = 30.0  # ordinary live news: thirty sample minutes per minute
BREAKING_SPEEDUP = 15.0  # the 11-minute episode unfolds in about 45 s
LEAD_S = 15.0  # ordinary live news before the story breaks


@dataclass
class Stream:
    """The sample split three ways: history (published at once), the live filler (recent
    ordinary news, re-published at a speed-up), and the breaking episode."""

    history: list[str]
    filler: list[tuple[float, dict[str, Any]]]  # (sample seconds from the first, article)
    breaking: list[tuple[float, dict[str, Any]]]
    expected: int = 0  # distinct valid articles in the history: what the store must reach


def _time(obj: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(obj["published_at"])
    except (TypeError, KeyError, ValueError):
        return None


def split_sample(path: Path = SAMPLE, filler_hours: float = 24.0) -> Stream:
    lines = path.read_text(encoding="utf-8").splitlines()
    parsed: list[tuple[str, Any, datetime | None]] = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        parsed.append((line, obj, _time(obj) if isinstance(obj, dict) else None))
    acme = [t for _, o, t in parsed if t is not None and "Acme" in str(o.get("title", ""))]
    cut = max(acme) - timedelta(minutes=BREAKING_MIN)
    last = max(t for _, _, t in parsed if t is not None)

    def is_breaking(o: Any, t: datetime | None) -> bool:
        return t is not None and t >= cut and "Acme" in str(o.get("title", ""))

    history = [line for line, o, t in parsed if not is_breaking(o, t)]
    ids = set()
    for line in history:
        with contextlib.suppress(FinsentryError):  # malformed on purpose: dead-lettered
            ids.add(decode(line.encode("utf-8")).id)
    recent = [(t, o) for _, o, t in parsed if t and t >= last - timedelta(hours=filler_hours)]
    filler = sorted((t, o) for t, o in recent if not is_breaking(o, t))
    breaking = sorted((t, o) for _, o, t in parsed if t is not None and is_breaking(o, t))
    return Stream(
        history=history,
        filler=[((t - filler[0][0]).total_seconds(), o) for t, o in filler],
        breaking=[((t - breaking[0][0]).total_seconds(), o) for t, o in breaking],
        expected=len(ids),
    )


@dataclass
class Live:
    """What the main loop publishes and when (wall-clock seconds since the live phase)."""

    stream: Stream
    start: float
    breaking_at: float
    round: int = 0
    next_filler: int = 0
    next_breaking: int = 0
    published: int = 0
    shown: set[int] = field(default_factory=set)

    def due(self, now: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Articles due by ``now``: (filler, breaking), each stamped now with a fresh id."""
        filler: list[dict[str, Any]] = []
        span = self.stream.filler[-1][0] + 60.0
        while True:
            offset, obj = self.stream.filler[self.next_filler]
            at = self.start + (self.round * span + offset) / FILLER_SPEEDUP
            if at > now:
                break
            filler.append(self._stamp(obj, f"live{self.round}"))
            self.next_filler += 1
            if self.next_filler == len(self.stream.filler):  # loop the day of news
                self.next_filler, self.round = 0, self.round + 1
        breaking: list[dict[str, Any]] = []
        while self.next_breaking < len(self.stream.breaking) and now >= self.breaking_at:
            offset, obj = self.stream.breaking[self.next_breaking]
            if self.breaking_at + offset / BREAKING_SPEEDUP > now:
                break
            breaking.append(self._stamp(obj, "now"))
            self.next_breaking += 1
        self.published += len(filler) + len(breaking)
        return filler, breaking

    @staticmethod
    def _stamp(obj: dict[str, Any], tag: str) -> dict[str, Any]:
        out = dict(obj)
        out["id"] = f"{obj.get('id', 'x')}~{tag}"
        out["published_at"] = datetime.now(UTC).isoformat()
        return out


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())


def say(text: str) -> None:
    print(text, flush=True)


class Demo:
    def __init__(self, settings: Settings, seconds: float | None) -> None:
        self.settings = settings
        self.seconds = seconds
        self.t0 = time.monotonic()
        self.stop = False
        self.broker: EmbeddedBroker | None = None
        self.daemon: subprocess.Popen[bytes] | None = None
        self.url = ""

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    # -- start -----------------------------------------------------------------------------
    def start(self) -> tuple[Engine, Any]:
        DATA.mkdir(exist_ok=True)
        db = DATA / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{db}"
        self.broker = EmbeddedBroker().start()
        say(f"== embedded broker on {self.broker.bootstrap}")
        kafka = self.settings.kafka.model_copy(update={"bootstrap_servers": self.broker.bootstrap})
        self.settings = self.settings.model_copy(update={"kafka": kafka})
        engine = make_engine(url)
        upgrade(engine)
        say(f"== SQLite store {db} (schema created)")
        port = free_port()
        env = {
            **os.environ,
            "FINSENTRY_KAFKA__BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "FINSENTRY_STORE__URL": url,
            # the demo ticks every 15 s instead of every minute, so the alert shows soon
            "FINSENTRY_ALERTS__INTERVAL_S": os.environ.get("FINSENTRY_ALERTS__INTERVAL_S", "15"),
        }
        fs = Path(sys.executable).with_name("finsentry")
        log = (DATA / "daemon.log").open("wb")
        self.daemon = subprocess.Popen(
            [str(fs), "run", "--http", "--port", str(port), "--log-level", "WARNING"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops the daemon in order
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        self._wait_http()
        say(f"\n   dashboard: {self.url}/   (open it now: it refreshes as the data arrives)\n")
        ensure_topics(kafka, [kafka.topic, kafka.dlq_topic])
        return engine, make_producer(kafka)

    def _wait_http(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop:
            self._check_daemon()
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise FinsentryError(f"the daemon's HTTP server did not answer on {self.url}")

    def _check_daemon(self) -> None:
        if self.daemon is not None and self.daemon.poll() is not None:
            tail = (DATA / "daemon.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise FinsentryError(
                f"the daemon exited with code {self.daemon.returncode}: "
                + (" | ".join(tail) or "no output")
            )

    # -- history ---------------------------------------------------------------------------
    def history(self, engine: Engine, producer: Any, stream: Stream) -> None:
        from tqdm import tqdm

        lines = rebase_times(stream.history, datetime.now(UTC).replace(microsecond=0))
        topic = self.settings.kafka.topic
        n = publish(producer, topic, lines)
        say(f"== published {n} articles of history (four days, the newest now) to {topic}")
        bar = tqdm(total=stream.expected, desc="daemon catching up", unit="art", file=sys.stdout)
        last, last_change = 0, time.monotonic()
        try:
            while not self.stop:
                self._check_daemon()
                count = stored(engine)
                bar.update(count - last)
                if count != last:
                    last, last_change = count, time.monotonic()
                if count >= stream.expected:
                    break
                if time.monotonic() - last_change > 180:
                    raise FinsentryError(f"the store stopped at {count}/{stream.expected}")
                self._deadline()
                time.sleep(0.5)
        finally:
            bar.close()
        say(f"== caught up in {self.elapsed():.0f} s: {last} articles stored")

    def _deadline(self) -> None:
        if self.seconds is not None and self.elapsed() > self.seconds:
            raise TimeoutError

    # -- live ------------------------------------------------------------------------------
    def live(self, engine: Engine, producer: Any, stream: Stream) -> bool:
        """Keep the stream flowing, break the story, wait for the alert; True once it fired
        (and with ``--seconds``, returns then)."""
        start = time.monotonic()
        plan = Live(stream, start, breaking_at=start + LEAD_S)
        topic = self.settings.kafka.topic
        say(
            f"== live: recent sample news re-published now at {FILLER_SPEEDUP:.0f}x; "
            f"the Acme story breaks in {LEAD_S:.0f} s"
        )
        fired: int | None = None
        next_poll = next_status = start
        while not self.stop:
            now = time.monotonic()
            filler, breaking = plan.due(now)
            if filler or breaking:
                publish(producer, topic, [json.dumps(o) for o in filler + breaking])
            if breaking and plan.next_breaking == len(breaking):
                say(f"== [{self.elapsed():4.0f}s] BREAKING: negative Acme headlines arrive")
            for o in breaking:
                say(f"   + {terminal_safe(str(o.get('title', '')))}")
            if now >= next_poll:
                next_poll = now + 2.0
                self._check_daemon()
                got = self._new_alerts(plan.shown)
                for alert in got:
                    self.show_alert(alert)
                    if alert["series_key"] == SPIKE_KEY and fired is None:
                        fired = int(alert["id"])
                        self.plot(engine)
                        if self.seconds is not None:
                            return True
                        say("   the stream goes on; Ctrl-C stops everything")
            if now >= next_status:
                next_status = now + 15.0
                say(
                    f"   [{self.elapsed():4.0f}s] live: {plan.published} published, "
                    f"{stored(engine)} stored, breaking {plan.next_breaking}/"
                    f"{len(stream.breaking)}"
                )
            self._deadline()
            time.sleep(0.2)
        return fired is not None

    def _new_alerts(self, shown: set[int]) -> list[dict[str, Any]]:
        try:
            res = httpx.get(self.url + "/api/alerts?state=firing", timeout=5)
            alerts = res.json().get("alerts", []) if res.status_code == 200 else []
        except (httpx.HTTPError, ValueError):
            return []
        new = [a for a in alerts if int(a["id"]) not in shown]
        shown.update(int(a["id"]) for a in new)
        return new

    def show_alert(self, alert: dict[str, Any]) -> None:
        def pct(v: Any) -> str:
            return f"{v:.0%}" if isinstance(v, int | float) else "?"

        say(
            f"\n!! [{self.elapsed():4.0f}s] ALERT #{alert['id']} firing on "
            f"{terminal_safe(alert['series_key'])}: negative {pct(alert.get('observed'))} vs "
            f"baseline {pct(alert.get('baseline'))} (lift {alert.get('lift') or 0:.1f}x, "
            f"n={alert.get('n')}, p={alert.get('p_value') or 0:.1e})"
        )
        try:
            detail = httpx.get(f"{self.url}/api/alerts/{alert['id']}", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            detail = {}
        words = ", ".join(str(w) for w in detail.get("top_words", [])[:6])
        if words:
            say(f"   words: {terminal_safe(words)}")
        for a in detail.get("top_articles", [])[:5]:
            say(f"   - {terminal_safe(str(a.get('title', '')))} ({a.get('score', 0):+.2f})")
        key = str(alert["series_key"]).replace(":", "%3A")
        say(f"   on the dashboard: {self.url}/?key={key}\n")

    def plot(self, engine: Engine) -> None:
        from pipeline.plot import plot
        from pipeline.timeparse import pandas_freq

        out = DATA / "acme.png"
        now = datetime.now(UTC)
        try:
            plot(engine, SPIKE_KEY, now - timedelta(hours=48), now, pandas_freq("1h"), out)
            say(f"   chart for reports: {out} (finsentry plot --key {SPIKE_KEY} --since 48h)")
        except FinsentryError as exc:
            say(f"   (no chart: {exc})")

    # -- stop ------------------------------------------------------------------------------
    def close(self, producer: Any | None) -> None:
        if producer is not None:
            with contextlib.suppress(Exception):  # the broker may be gone; nothing is left
                producer.close(timeout=5)
        if self.daemon is not None and self.daemon.poll() is None:
            say("== stopping the daemon (SIGTERM)")
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait(timeout=10)
        if self.broker is not None:
            self.broker.stop()
            say("== broker stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="end by itself: 0 once alerted, 1 at timeout")
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds else None
    try:
        settings = load_settings(None)
    except FinsentryError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    demo = Demo(settings, seconds)

    def on_signal(signum: int, frame: Any) -> None:
        demo.stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    producer = None
    try:
        stream = split_sample()
        engine, producer = demo.start()
        demo.history(engine, producer, stream)
        fired = demo.live(engine, producer, stream) if not demo.stop else False
        engine.dispose()
        if demo.stop:
            say("\n== interrupted")
            return 130
        say(f"== done in {demo.elapsed():.0f} s: the alert fired")
        return 0 if fired else 1
    except TimeoutError:
        say(
            f"\ndemo: no alert on {SPIKE_KEY} within {seconds:.0f} s "
            "(see finsentry-data/daemon.log)"
        )
        return 1
    except FinsentryError as exc:
        print(f"demo: error: {str(terminal_safe(str(exc))).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        demo.close(producer)


if __name__ == "__main__":
    sys.exit(main())
