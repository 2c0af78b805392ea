"""Explanations on demand: the words behind a label, computed when someone looks, stored once.

Why lazy: a gradient × input explanation costs a second forward pass *and* a backward pass, and
only a handful of articles are ever shown — the evidence of an alert, the rows of an
``articles`` query. Explaining every negative article in the consumer's hot path cost about as
much as classifying the whole batch (``docs/performance.md`` has the measurement), so the
daemon stores ``sentiments.explanation = NULL`` and this module fills it the first time an
article is shown. A computed explanation (even an empty one, ``[]``) is stored, so the second
look reads it back.

Faithfulness: an explanation must explain the stored label. It is computed only with the model
that produced the row (``model_version``) and only when re-running that model on the text still
at hand reproduces the stored probabilities; after text retention cleared the body (or for a
row from another model) the answer is ``[]`` — for retention, stored, since the text will not
come back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from sqlalchemy import Engine, and_, select, update

from models.base import Classifier
from pipeline.store.schema import articles, sentiments

log = logging.getLogger(__name__)

Explanation = list[list[object]]  # [[word, weight], ...], strongest first
Explainer = Callable[[Sequence[str]], dict[str, Explanation]]

# Largest difference between a stored probability and the re-run's that still counts as the
# same text through the same model (bf16 in the hot path vs fp32 here moves them ~1e-3).
PROB_TOLERANCE = 0.05


def _text(title: str | None, body: str | None) -> str:
    """The text the consumer classified (``consumers.records.Article.text``)."""
    return "\n".join(p.strip() for p in (title, body) if p and p.strip())


def explain_articles(
    engine: Engine, classifier: Classifier, article_ids: Sequence[str]
) -> dict[str, Explanation]:
    """Explanations of the current sentiment rows of ``article_ids``: stored ones read back,
    missing ones computed with ``classifier``, stored, and returned. Ids not in the store are
    left out."""
    ids = list(dict.fromkeys(article_ids))
    if not ids:
        return {}
    stmt = (
        select(
            articles.c.id,
            articles.c.title,
            articles.c.body,
            sentiments.c.id.label("sid"),
            sentiments.c.model_version,
            sentiments.c.label,
            sentiments.c.p_neg,
            sentiments.c.p_neu,
            sentiments.c.p_pos,
            sentiments.c.explanation,
        )
        .join(sentiments, and_(sentiments.c.article_id == articles.c.id, sentiments.c.is_current))
        .where(articles.c.id.in_(ids))
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out: dict[str, Explanation] = {}
    todo = []
    for r in rows:
        if r.explanation is not None:
            out[r.id] = [list(pair) for pair in r.explanation]
        elif r.model_version != classifier.version:
            out[r.id] = []  # another model's label: not ours to explain (and not stored)
        else:
            todo.append(r)
    if not todo:
        return out
    texts = [_text(r.title, r.body) for r in todo]
    preds = classifier.classify(texts, explain=True)
    updates: list[tuple[int, Explanation]] = []
    for r, text, p in zip(todo, texts, preds, strict=True):
        stored = (r.p_neg, r.p_neu, r.p_pos)
        fresh = (p.p_negative, p.p_neutral, p.p_positive)
        same = p.label == r.label and all(
            abs(a - b) <= PROB_TOLERANCE for a, b in zip(stored, fresh, strict=True)
        )
        if not text or not same:
            # the text that was classified is gone (retention cleared the body): nothing
            # faithful to show, now or later
            log.debug("article %s: text no longer matches its stored sentiment", r.id)
            expl: Explanation = []
        else:
            expl = [[w, round(float(s), 6)] for w, s in (p.explanation or ())]
        out[r.id] = expl
        updates.append((r.sid, expl))
    with engine.begin() as conn:
        for sid, expl in updates:
            # no "IS NULL" guard: a missing explanation may be stored as SQL NULL or JSON null,
            # and a concurrent writer computes the same words
            conn.execute(update(sentiments).where(sentiments.c.id == sid).values(explanation=expl))
    return out


def explainer(engine: Engine, classifier: Classifier) -> Explainer:
    """``ids -> {id: explanation}`` for :func:`pipeline.query.articles` and ``top_negative``."""
    return partial(explain_articles, engine, classifier)


def fill(records: Sequence[Mapping[str, object]], explain: Explainer) -> dict[str, Explanation]:
    """Explanations for the records (dicts with ``id`` and ``explanation``) that lack one."""
    missing = [str(r["id"]) for r in records if r.get("explanation") is None]
    return explain(missing) if missing else {}
