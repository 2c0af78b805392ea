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

VERSION = "lexicon-1"

POSITIVE = {
    "beat",
    "beats",
    "beating",
    "surpass",
    "surpassed",
    "surpasses",
    "exceed",
    "exceeded",
    "exceeds",
    "record",
    "strong",
    "stronger",
    "strongest",
    "robust",
    "upgrade",
    "upgraded",
    "upgrades",
    "outperform",
    "overweight",
    "buy",
    "bullish",
    "rally",
    "rallies",
    "rallied",
    "soar",
    "soars",
    "soared",
    "surge",
    "surges",
    "surged",
    "jump",
    "jumps",
    "jumped",
    "climb",
    "climbs",
    "climbed",
    "gain",
    "gains",
    "gained",
    "profitable",
    "profitability",
    "win",
    "wins",
    "won",
    "award",
    "awarded",
    "approval",
    "approved",
    "breakthrough",
    "dividend",
    "buyback",
    "repurchase",
    "accretive",
    "boost",
    "boosts",
    "boosted",
    "improve",
    "improved",
    "improves",
    "improvement",
    "recovery",
    "recovered",
    "rebound",
    "rebounded",
    "expansion",
    "optimistic",
    "upbeat",
    "momentum",
    "tailwind",
    "tailwinds",
    "favorable",
    "favourable",
    "success",
    "successful",
    "milestone",
    "raise",
    "raised",
    "raises",
    "hike",
    "hiked",
    "top",
    "tops",
    "topped",
    "upside",
    "resilient",
    "ripping",
    "moon",
    "highs",
    "high",
    "secured",
    "secures",
    "partnership",
    "growth",
    "grew",
    "grow",
}
NEGATIVE = {
    "miss",
    "missed",
    "misses",
    "warning",
    "warns",
    "warned",
    "downgrade",
    "downgraded",
    "downgrades",
    "underperform",
    "underweight",
    "sell",
    "bearish",
    "plunge",
    "plunges",
    "plunged",
    "slump",
    "slumps",
    "slumped",
    "tumble",
    "tumbles",
    "tumbled",
    "sink",
    "sinks",
    "sank",
    "slide",
    "slides",
    "slid",
    "drop",
    "drops",
    "dropped",
    "fall",
    "falls",
    "fell",
    "decline",
    "declines",
    "declined",
    "loss",
    "losses",
    "lawsuit",
    "sued",
    "probe",
    "investigation",
    "fraud",
    "default",
    "defaults",
    "defaulted",
    "bankruptcy",
    "bankrupt",
    "insolvency",
    "impairment",
    "writedown",
    "write-down",
    "layoffs",
    "layoff",
    "redundancies",
    "strike",
    "recall",
    "recalls",
    "halt",
    "halted",
    "suspend",
    "suspended",
    "delay",
    "delayed",
    "weak",
    "weaker",
    "weakness",
    "disappointing",
    "disappoint",
    "disappointed",
    "concern",
    "concerns",
    "risk",
    "headwind",
    "headwinds",
    "pressure",
    "crash",
    "crashed",
    "fine",
    "fined",
    "penalty",
    "breach",
    "downturn",
    "recession",
    "dilution",
    "dilutive",
    "cut",
    "cuts",
    "slash",
    "slashed",
    "lower",
    "lowered",
    "lowers",
    "negative",
    "lows",
    "going-concern",
    "restatement",
    "resigns",
    "resigned",
    "ousted",
    "shortfall",
    "deficit",
    "volatile",
    "turmoil",
    "selloff",
    "sell-off",
    "scandal",
    "outage",
    "hack",
}
# Movement words: their sign comes from the object that moved.
UP = {
    "rose",
    "rise",
    "rises",
    "rising",
    "increase",
    "increased",
    "increases",
    "up",
    "higher",
    "grew",
    "grow",
    "grows",
    "widened",
    "widen",
    "widens",
    "expanded",
    "jumped",
    "surged",
    "climbed",
    "raised",
    "doubled",
    "tripled",
    "accelerated",
    "soared",
}
DOWN = {
    "fell",
    "fall",
    "falls",
    "decrease",
    "decreased",
    "decreases",
    "down",
    "lower",
    "declined",
    "decline",
    "narrowed",
    "narrow",
    "narrows",
    "shrank",
    "shrink",
    "reduced",
    "reduce",
    "reduces",
    "cut",
    "cuts",
    "dropped",
    "halved",
    "eased",
    "slowed",
    "contracted",
    "trimmed",
}
# Things that are good when they go up.
GOOD_OBJECTS = {
    "revenue",
    "revenues",
    "sales",
    "profit",
    "profits",
    "earnings",
    "income",
    "margin",
    "margins",
    "ebitda",
    "eps",
    "orders",
    "order",
    "backlog",
    "dividend",
    "guidance",
    "outlook",
    "forecast",
    "target",
    "demand",
    "growth",
    "cash",
    "bookings",
    "subscribers",
    "volume",
    "volumes",
    "shares",
    "stock",
    "price",
    "market",
    "share",
    "rating",
    "payout",
}
# Things that are bad when they go up.
BAD_OBJECTS = {
    "loss",
    "losses",
    "debt",
    "costs",
    "cost",
    "expenses",
    "deficit",
    "unemployment",
    "inflation",
    "churn",
    "defaults",
    "delinquencies",
    "writedowns",
    "impairments",
    "leverage",
    "layoffs",
    "headcount",
    "liabilities",
    "risk",
    "risks",
    "provisions",
}
NEGATORS = {
    "not",
    "no",
    "never",
    "without",
    "n't",
    "didn't",
    "did't",
    "fails",
    "failed",
    "unable",
    "neither",
    "nor",
    "hardly",
    "no longer",
}
INTENSIFIERS = {
    "sharply": 1.5,
    "significantly": 1.4,
    "strongly": 1.4,
    "record": 1.3,
    "massive": 1.5,
    "steep": 1.4,
    "slightly": 0.6,
    "modestly": 0.7,
}

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
