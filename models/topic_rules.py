"""Cheap text features for topics: keyword/regex hit counts and a bag of words.

Both are pure Python + numpy (no torch), so the ``keywords`` mode and the ``lexical`` head run
without the encoder, and the trained heads use them as extra feature blocks beside the
embedding.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np

from models.regex_trie import trie_pattern
from models.taxonomy import Topic, keyword_atoms

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " "})


class KeywordRules:
    """Counts keyword/regex hits per (text, topic) in one pass over the text.

    All topics' keywords form one trie pattern, scanned once over the lowercased text with a
    restart at every word a match begins in, so overlapping keywords of different topics all
    count; a matched span is resolved to its topics through each topic's anchored pattern,
    cached by span. Only topics with ``regex`` entries cost a second scan. Texts are clipped
    to ``MAX_CHARS`` (the caller passes the title and the lead, not whole filings).
    """

    MAX_CHARS = 10_000
    _CACHE_LIMIT = 50_000

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.ids = tuple(t.id for t in topics)
        seqs = [keyword_atoms(k) for t in topics for k in t.keywords]
        self._scan = re.compile(r"(?<!\w)" + trie_pattern(seqs) + r"(?!\w)") if seqs else None
        self._anchored = [
            re.compile(trie_pattern([keyword_atoms(k) for k in t.keywords]) + r"(?!\w)")
            if t.keywords
            else None
            for t in topics
        ]
        self._regex = [
            (j, re.compile("|".join(f"(?:{rx})" for rx in t.regex), re.IGNORECASE))
            for j, t in enumerate(topics)
            if t.regex
        ]
        self._spans: dict[str, tuple[int, ...]] = {}

    def _topics_of(self, span: str) -> tuple[int, ...]:
        found = self._spans.get(span)
        if found is None:
            found = tuple(j for j, p in enumerate(self._anchored) if p and p.match(span))
            if len(self._spans) >= self._CACHE_LIMIT:
                self._spans.clear()
            self._spans[span] = found
        return found

    def hits(self, texts: Sequence[str], cap: int = 3) -> np.ndarray:
        out = np.zeros((len(texts), len(self.ids)), dtype=np.float32)
        for i, text in enumerate(texts):
            norm = text[: self.MAX_CHARS].translate(_APOSTROPHES)
            row = out[i]
            if self._scan is not None:
                low, pos = norm.lower(), 0
                ends: dict[int, int] = {}  # a topic's hit inside its previous hit counts once
                while (m := self._scan.search(low, pos)) is not None:
                    start = m.start()
                    for j in self._topics_of(m.group(0)):
                        if start >= ends.get(j, 0):
                            row[j] += 1
                            ends[j] = m.end()
                    pos = start + 1
            for j, rx in self._regex:
                for _ in rx.finditer(norm):
                    row[j] += 1
                    if row[j] >= cap:
                        break
        np.minimum(out, cap, out=out)
        return out


def keyword_scores(hits: np.ndarray) -> np.ndarray:
    """1 hit -> 0.5, 2 -> 0.75, 3 -> 0.875: tagged at >= 0.5 (any hit)."""
    return (1.0 - np.power(0.5, hits)).astype(np.float32)


_WORD = re.compile(r"[a-z0-9]+(?:['&.\-][a-z0-9]+)*")


def bag_terms(text: str) -> set[str]:
    """Lowercased words (any word with a digit becomes ``#``) and adjacent word pairs."""
    words = ["#" if any(c.isdigit() for c in w) else w for w in _WORD.findall(text.lower())]
    return {*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))}


class BagOfWords:
    """Binary, L2-normalised bag of words and word pairs over a fixed vocabulary."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = tuple(vocab)
        self._index = {t: i for i, t in enumerate(self.vocab)}

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for i, text in enumerate(texts):
            cols = [
                j
                for t in bag_terms(text[: KeywordRules.MAX_CHARS])
                if (j := self._index.get(t)) is not None
            ]
            if cols:
                out[i, cols] = 1.0 / np.sqrt(len(cols))
        return out
