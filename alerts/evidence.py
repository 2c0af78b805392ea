"""Which words explain an alert: the explanation tokens of its top negative articles, summed.

Gradient × input ranks every token of a negative headline; the words worth showing people are
the ones that recur across the episode's articles, without the words every sentence has (stop
words), punctuation, numbers, or the alerted entity's own names (an alert about Acme learns
nothing from the word "Acme"). The lifecycle puts the result in the alert's evidence.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

# Words that carry no evidence on their own: they rank high in gradient × input because every
# sentence has them, not because they made it negative.
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "after",
        "against",
        "all",
        "also",
        "amid",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "may",
        "more",
        "most",
        "much",
        "no",
        "nor",
        "not",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "per",
        "said",
        "says",
        "she",
        "should",
        "since",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "us",
        "very",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_EDGE = re.compile(r"^[^\w$]+|[^\w]+$")


def key_words(key: str) -> set[str]:
    """The lowercased name tokens of a series key's entity and source parts (``entity:ACME/…``
    → {"acme"}): an alert about Acme learns nothing from the word "Acme"."""
    out: set[str] = set()
    for part in key.split("/"):
        kind, _, value = part.partition(":")
        if kind in ("entity", "source"):
            out.update(t for t in re.split(r"[^\w]+", value.lower()) if t)
    return out


def top_words(
    articles: Sequence[dict[str, Any]], k: int = 8, exclude: Iterable[str] = ()
) -> list[list[Any]]:
    """The explanation words that recur across the top negative articles, strongest first,
    without stop words, punctuation, numbers and ``exclude`` (the alerted entity's names)."""
    skip = {w.lower().lstrip("$") for w in exclude}
    weights: dict[str, float] = defaultdict(float)
    for a in articles:
        for token, weight in a.get("explanation") or ():
            word = _EDGE.sub("", str(token).lower()).lstrip("$")
            if not word or not any(ch.isalpha() for ch in word):
                continue
            if word in STOP_WORDS or word in skip or word.removesuffix("'s") in skip:
                continue
            weights[word] += float(weight)
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [[w, round(v, 4)] for w, v in ranked]
