"""The classifier seam.

Everything that labels sentiment implements :class:`Classifier`; the daemon, ``finsentry
classify``, rescoring and the benchmarks only see this interface, so the lexicon baseline, the
fine-tuned transformer and any local checkpoint are interchangeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Prediction:
    """One document's sentiment. Probabilities sum to 1; ``score = p_positive - p_negative``.

    ``explanation`` holds (token, weight) pairs that pushed the document toward ``label``,
    strongest first, when the classifier was asked to explain.

    ``embedding`` is the pooled sentence vector of the same forward pass, when the classifier
    has one, so topic tagging can reuse it instead of running a second encoder.
    """

    label: str
    p_negative: float
    p_neutral: float
    p_positive: float
    explanation: tuple[tuple[str, float], ...] | None = field(default=None)
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def score(self) -> float:
        return self.p_positive - self.p_negative

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "label": self.label,
            "p_negative": round(self.p_negative, 6),
            "p_neutral": round(self.p_neutral, 6),
            "p_positive": round(self.p_positive, 6),
            "score": round(self.score, 6),
        }
        if self.explanation is not None:
            out["explanation"] = [[t, round(w, 6)] for t, w in self.explanation]
        return out

    @classmethod
    def from_probs(
        cls,
        p_negative: float,
        p_neutral: float,
        p_positive: float,
        explanation: tuple[tuple[str, float], ...] | None = None,
        embedding: np.ndarray | None = None,
    ) -> Prediction:
        probs = (p_negative, p_neutral, p_positive)
        label = LABELS[max(range(3), key=lambda i: probs[i])]
        return cls(label, p_negative, p_neutral, p_positive, explanation, embedding)


@runtime_checkable
class Classifier(Protocol):
    """Labels texts as negative / neutral / positive.

    ``version`` identifies the model that produced a stored row (kept per sentiment row so
    rescoring can tell model versions apart).
    """

    name: str
    version: str

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        """Return one prediction per text, in order. With ``explain`` each prediction carries
        the tokens that drove it."""
        ...
