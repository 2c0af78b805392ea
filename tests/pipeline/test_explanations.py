"""Lazy explanations: an article stored without one gets one when a query shows it, the result
is stored, and the second look reads it back instead of recomputing. Real store (SQLite and
PostgreSQL), real classifier (the lexicon baseline, which explains), wrapped only to count its
calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from consumers.records import Article, ScoredArticle
from models.base import Prediction
from models.lexicon import LexiconClassifier
from pipeline.explanations import explain_articles, explainer
from pipeline.query import articles, top_negative
from pipeline.store import SqlStore
from pipeline.store.schema import articles as articles_table
from pipeline.store.schema import sentiments

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NEGATIVE = ("Acme shares plunge after profit warning", "It cut its outlook and warned of losses.")
POSITIVE = ("Globex beats estimates and raises guidance", None)
# negative through its body only: the title alone reads neutral
BODY_NEGATIVE = ("Acme publishes its quarterly report", "Shares plunge after a profit warning.")


class Counting:
    """The lexicon classifier, counting the texts it is asked to explain."""

    def __init__(self) -> None:
        self.inner = LexiconClassifier()
        self.name = self.inner.name
        self.version = self.inner.version
        self.explained = 0

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        if explain:
            self.explained += len(texts)
        return self.inner.classify(texts, explain=explain)


def store(engine: Engine, clf: Counting, rows: list[tuple[str, str, str | None]]) -> None:
    items = []
    for n, (aid, title, body) in enumerate(rows):
        art = Article(aid, title, body, None, "wire", "en", T0 + timedelta(minutes=n))
        pred = clf.classify([art.text])[0]  # the hot path: no explanation
        assert pred.explanation is None
        items.append(ScoredArticle(art, pred, clf.version))
    SqlStore(engine).write_batch(items)


def stored(engine: Engine, aid: str) -> object:
    with engine.connect() as conn:
        return conn.execute(
            select(sentiments.c.explanation).where(sentiments.c.article_id == aid)
        ).scalar_one()


def test_shown_article_is_explained_once_and_stored(engine: Engine) -> None:
    clf = Counting()
    store(engine, clf, [("neg", *NEGATIVE), ("pos", *POSITIVE)])
    assert stored(engine, "neg") is None

    explain = explainer(engine, clf)
    frame = articles(engine, "all", explain=explain)
    by_id = dict(zip(frame["id"], frame["explanation"], strict=True))
    words = [w for w, _ in by_id["neg"]]
    assert "plunge" in words and "warning" in words
    assert isinstance(by_id["pos"], list)  # explained too (toward "positive"), maybe empty
    assert clf.explained == 2
    assert [w for w, _ in stored(engine, "neg")] == words  # type: ignore[attr-defined]

    again = articles(engine, "all", explain=explain)
    assert clf.explained == 2  # read back, not recomputed
    assert dict(zip(again["id"], again["explanation"], strict=True)) == by_id

    evidence = top_negative(engine, "all", T0, T0 + timedelta(hours=1), k=5, explain=explain)
    assert [e["id"] for e in evidence] == ["neg"]
    assert evidence[0]["explanation"] == by_id["neg"] and clf.explained == 2


def test_top_negative_explains_only_what_it_returns(engine: Engine) -> None:
    clf = Counting()
    rows = [(f"n{i}", f"Acme{i} shares plunge after profit warning", None) for i in range(6)]
    store(engine, clf, rows)
    explain = explainer(engine, clf)
    evidence = top_negative(engine, "all", T0, T0 + timedelta(hours=1), k=2, explain=explain)
    assert len(evidence) == 2 and clf.explained == 2
    assert all(e["explanation"] for e in evidence)
    assert sum(stored(engine, aid) is not None for aid, _, _ in rows) == 2


def test_text_gone_or_other_model_gives_empty(engine: Engine) -> None:
    clf = Counting()
    store(engine, clf, [("neg", *BODY_NEGATIVE), ("old", *NEGATIVE)])
    with engine.begin() as conn:  # what text retention does: the body goes, the title stays
        conn.execute(update(articles_table).where(articles_table.c.id == "neg").values(body=None))
        conn.execute(
            update(sentiments).where(sentiments.c.article_id == "old").values(model_version="m-0")
        )
    got = explain_articles(engine, clf, ["neg", "old", "missing"])
    # the title alone no longer reproduces the stored probabilities of title + body
    assert got == {"neg": [], "old": []}
    assert stored(engine, "neg") == []  # stored: the body will not come back
    assert stored(engine, "old") is None  # another model's row is left for that model
    assert explain_articles(engine, clf, []) == {}
