"""A small stored world for the API tests, written through the real writer (``SqlStore``):
known articles in known minutes, so every count the API returns can be checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.records import Article, ScoredArticle
from models.base import Prediction

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
VERSION = "api-test-v1"

# (minute offset, id, title, source, label, entities, topics, explanation)
ROWS: list[tuple[int, str, str, str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    (
        1,
        "n1",
        "Acme hit by accounting fraud probe",
        "wire",
        "negative",
        ("ACME",),
        ("litigation_regulation",),
        ("fraud", "probe"),
    ),
    (
        2,
        "n2",
        "Acme hit by accounting fraud probe",
        "other",
        "negative",
        ("ACME",),
        ("litigation_regulation",),
        ("fraud", "probe"),
    ),  # a syndicated copy of n1
    (
        3,
        "n3",
        "Acme shares plunge after lender pulls credit line",
        "wire",
        "negative",
        ("ACME",),
        ("credit_debt",),
        ("plunge", "pulls"),
    ),
    (4, "p1", "Acme wins record contract with navy", "wire", "positive", ("ACME",), (), ()),
    (7, "u1", "Acme to hold annual meeting in May", "wire", "neutral", ("ACME",), (), ()),
    (8, "g1", "Globex opens a new plant in Ohio", "wire", "positive", ("GLOBEX",), (), ()),
    (
        21,
        "n4",
        "Acme supplier halts deliveries over unpaid bills",
        "wire",
        "negative",
        ("ACME",),
        ("credit_debt",),
        ("halts", "unpaid"),
    ),
]
PROBS = {"negative": (0.9, 0.07, 0.03), "neutral": (0.1, 0.8, 0.1), "positive": (0.05, 0.1, 0.85)}


def items() -> list[ScoredArticle]:
    out = []
    for minute, aid, title, source, label, ents, topics, why in ROWS:
        expl = tuple((w, round(0.6 - 0.1 * i, 2)) for i, w in enumerate(why)) or None
        out.append(
            ScoredArticle(
                article=Article(
                    id=aid,
                    title=title,
                    body=None,
                    url=f"https://news.example/{aid}",
                    source=source,
                    lang="en",
                    published_at=T0 + timedelta(minutes=minute, seconds=10),
                ),
                prediction=Prediction.from_probs(*PROBS[label], explanation=expl),
                model_version=VERSION,
                topics=tuple((t, 0.9) for t in topics),
                entities=ents,
            )
        )
    return out
