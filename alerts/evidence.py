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

from models.stopwords import FUNCTION_WORDS, NEGATORS

# Across an episode's articles negators recur in any negative story, so they go too.
STOP_WORDS = FUNCTION_WORDS | NEGATORS

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
