"""The daemon: wires settings, store, classifier, Kafka and (later) the scheduler.

Shutdown you can reason about: signal handlers only set an Event; an ExitStack owns every
resource and closes them in reverse order; the consumer finishes its batch, commits, and leaves
the group (so a rebalance doesn't wait for its session to time out).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from alerts.service import AlertService, ExtraJob
from consumers.dlq import KafkaDeadLetterSink
from consumers.kafka_io import ensure_topics, make_consumer, make_producer
from consumers.loop import LoopStats, NewsConsumer, Tagger
from models.base import Classifier
from models.registry import load_classifier
from pipeline.metrics import set_model_info
from pipeline.settings import Settings
from pipeline.store import SqlStore, ensure_current, make_engine
from pipeline.store.engine import redacted

log = logging.getLogger(__name__)


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT only set the stop event; the loop finishes its batch and exits."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def build_alert_service(
    engine: Engine,
    settings: Settings,
    holder: str | None = None,
    classifier: Classifier | None = None,
) -> AlertService:
    """The alert scheduler on the SQL store, with its notifiers, evidence lookup and retention
    job. With ``classifier`` (the daemon's loaded model) the evidence articles stored without
    an explanation get one when an alert shows them (``pipeline/explanations.py``)."""
    from alerts.notify.channels import build_notifiers
    from pipeline.explanations import explainer
    from pipeline.maintenance import apply_retention
    from pipeline.query import top_negative
    from pipeline.store.alerts_sql import SqlAlertStore

    explain = explainer(engine, classifier) if classifier is not None else None

    return AlertService(
        SqlAlertStore(engine),
        settings.alerts,
        settings.notify,
        build_notifiers(settings.notify),
        article_lookup=lambda key, start, end, k: top_negative(
            engine, key, start, end, k, explain=explain
        ),
        key_terms=_watchlist_terms(settings),
        extra_jobs=(
            ExtraJob("retention", lambda: apply_retention(engine, settings.retention), 3600.0),
        ),
        holder=holder,
    )


def _watchlist_terms(settings: Settings) -> Callable[[str], list[str]]:
    """A series key → the name, alias and ticker words of its watchlist entity (for evidence)."""
    from models.entities import Watchlist

    path = settings.tagging.watchlist
    watchlist = Watchlist.load(path) if path else None

    def terms(key: str) -> list[str]:
        out: list[str] = []
        for part in key.split("/"):
            kind, _, value = part.partition(":")
            if kind != "entity" or watchlist is None:
                continue
            try:
                e = watchlist[value]
            except KeyError:
                continue
            for name in (e.name, *e.aliases, *e.tickers):
                out.extend(w for w in name.replace("'", " ").split() if w)
        return out

    return terms


def _close_quietly(close: Callable[..., Any], **kwargs: Any) -> None:
    """Close a Kafka client within its timeout; a broker that is gone is no reason to fail."""
    try:
        close(**kwargs)
    except Exception as exc:
        log.warning("closing %s: %s", getattr(close, "__self__", close), exc)


def _default_tagger(settings: Settings) -> Tagger:
    from pipeline.tagging import ArticleTagger

    return ArticleTagger.from_settings(settings)


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        classifier: Classifier | None = None,
        tagger_factory: Callable[[Settings], Tagger | None] | None = None,
        http: bool = False,
    ) -> None:
        self.settings = settings
        self.http = http  # serve the API, dashboard, /health and /metrics (settings.http)
        self.http_url: str | None = None
        self._classifier = classifier
        self._tagger_factory = tagger_factory
        self.stats: LoopStats | None = None

    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> LoopStats:
        s = self.settings
        with ExitStack() as stack:
            engine = make_engine(s.store.url, echo=s.store.echo)
            stack.callback(engine.dispose)
            revision = ensure_current(engine)
            log.info("store %s at schema %s", redacted(s.store.url), revision)
            view = None
            if self.http:  # up first: /health answers while the model loads
                from pipeline.api.context import DaemonView
                from pipeline.api.server import ApiServer

                view = DaemonView(s.kafka.bootstrap_servers)
                server = stack.enter_context(
                    ApiServer(s, engine, daemon_state=view, explainer_source=view.explainer)
                )
                self.http_url = server.url
            classifier = self._classifier or load_classifier(s.model)
            log.info("classifier %s (%s)", classifier.name, classifier.version)
            set_model_info(classifier.name, classifier.version)
            if view is not None:
                from pipeline.explanations import explainer

                view.version = classifier.version
                view.explain = explainer(engine, classifier)
            factory = self._tagger_factory or _default_tagger
            tagger = factory(s)
            ensure_topics(s.kafka, [s.kafka.topic, s.kafka.dlq_topic])
            producer = make_producer(s.kafka)
            stack.callback(_close_quietly, producer.close, timeout=s.kafka.close_timeout_s)
            consumer = make_consumer(s.kafka)
            # close(autocommit=False): offsets were committed after each stored batch; a
            # bounded close, so SIGTERM exits in time while the broker is away.
            stack.callback(
                _close_quietly,
                consumer.close,
                autocommit=False,
                timeout_ms=int(s.kafka.close_timeout_s * 1000),
            )
            loop = NewsConsumer(
                consumer,
                classifier,
                SqlStore(engine, entity_topic_series=s.tagging.entity_topic_series),
                KafkaDeadLetterSink(
                    producer, s.kafka.dlq_topic, stop=stop, timeout_s=s.kafka.dlq_timeout_s
                ),
                tagger=tagger,
                poll_timeout_ms=s.kafka.poll_timeout_ms,
                max_records=s.kafka.batch_size,
                max_poll_interval_ms=s.kafka.max_poll_interval_ms,
                unknown_attempts=s.kafka.unknown_attempts,
                pause_before_commit_s=s.kafka.pause_before_commit_s,
                commit_timeout_ms=s.kafka.commit_timeout_ms,
            )
            if s.run_alerts:
                service = build_alert_service(engine, s, classifier=classifier)
                service.start()
                stack.callback(service.stop)
            log.info(
                "consuming %s as group %s from %s",
                s.kafka.topic,
                s.kafka.group_id,
                s.kafka.bootstrap_servers,
            )
            self.stats = loop.run(stop, idle_exit_s=idle_exit_s)
            log.info(
                "stopping: consumed=%d stored=%d duplicates=%d dead_lettered=%d",
                self.stats.consumed,
                self.stats.stored,
                self.stats.duplicates,
                self.stats.dead_lettered,
            )
            return self.stats
