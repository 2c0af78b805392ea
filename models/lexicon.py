"""Finance lexicon baseline: fast, dependency-free, negation- and direction-aware.

Why keep a lexicon next to a transformer: it is the fallback when no model can be loaded, the
floor every benchmark is measured against, and it explains itself for free (the matched words
are the explanation).

How it scores: words carry a polarity from finance-specific lists (general sentiment words
mislead here — "liability" and "cut costs" are not bad news). Two rules matter most:

* **direction × object**: a *movement* word ("rose", "narrowed", "cut") takes its sign from the
  thing that moved: "loss narrowed" is good, "revenue fell" is bad, "debt reduced" is good.
* **negation**: "not", "no", "failed to", "never" within three words before a polar word flip it
  ("did not miss" → positive).

The summed evidence becomes probabilities with a softmax against a neutral prior, so most text
with little evidence stays neutral, as most news is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from models.base import Prediction
from models.lexicon_words import (
    BAD_OBJECTS,
    DOWN,
    GOOD_OBJECTS,
    INTENSIFIERS,
    NEGATIVE,
    NEGATORS,
    POSITIVE,
    UP,
)

VERSION = "lexicon-1"

_TOKEN = re.compile(r"\$?[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)?%?")


def _tokens(text: str) -> list[str]:
    out = []
    for tok in _TOKEN.findall(text):
        t = tok.lower()
        if t.endswith("n't"):
            out.extend([t[:-3], "n't"])
        else:
            out.append(t)
    return out


def _score(tokens: list[str]) -> tuple[float, list[tuple[str, float]]]:
    # First pass: movement words claim their object, so "loss narrowed" counts once, as good.
    movement: dict[int, float] = {}
    claimed: set[int] = set()
    for i, tok in enumerate(tokens):
        if tok not in UP and tok not in DOWN:
            continue
        window = [j for j in range(max(0, i - 3), min(len(tokens), i + 3)) if j != i]
        obj = next((j for j in window if tokens[j] in GOOD_OBJECTS | BAD_OBJECTS), None)
        if obj is not None and obj not in claimed:
            sign = 1.0 if tok in UP else -1.0
            movement[i] = sign * (1.0 if tokens[obj] in GOOD_OBJECTS else -1.0)
            claimed.add(obj)
    total = 0.0
    evidence: list[tuple[str, float]] = []
    for i, tok in enumerate(tokens):
        if i in claimed:
            continue
        polarity = movement.get(i, 0.0)
        if polarity == 0.0:
            if tok in POSITIVE:
                polarity = 1.0
            elif tok in NEGATIVE:
                polarity = -1.0
        if polarity == 0.0:
            continue
        if i > 0 and tokens[i - 1] in INTENSIFIERS:
            polarity *= INTENSIFIERS[tokens[i - 1]]
        if any(tokens[j] in NEGATORS for j in range(max(0, i - 3), i)):
            polarity = -0.8 * polarity
        total += polarity
        evidence.append((tok, polarity))
    return total, evidence


class LexiconClassifier:
    """Rule-based finance sentiment; the fallback and benchmark floor."""

    name = "lexicon"
    version = VERSION

    def __init__(self, temperature: float = 0.6, neutral_prior: float = 0.9) -> None:
        self.temperature = temperature
        self.neutral_prior = neutral_prior

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        out = []
        for text in texts:
            total, evidence = _score(_tokens(text))
            logits = (-total / self.temperature, self.neutral_prior, total / self.temperature)
            m = max(logits)
            exps = [math.exp(x - m) for x in logits]
            z = sum(exps)
            p_neg, p_neu, p_pos = (e / z for e in exps)
            expl = None
            if explain:
                # toward the label: negative evidence for negative, positive otherwise
                sign = -1.0 if p_neg > max(p_neu, p_pos) else 1.0
                ranked = sorted(evidence, key=lambda e: -e[1] * sign)
                merged: dict[str, float] = {}
                for t, w in ranked:
                    if w * sign > 0:
                        merged[t] = merged.get(t, 0.0) + w * sign
                expl = tuple(sorted(merged.items(), key=lambda kv: -kv[1]))
            out.append(Prediction.from_probs(p_neg, p_neu, p_pos, expl))
        return out
