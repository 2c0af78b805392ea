"""Label names, from data files and from checkpoint configs, onto finsentry's three labels.

Data sets and checkpoints name the classes differently ("negative", "NEG", "bearish", "0",
"LABEL_0"). Every synonym accepted is listed here, explicitly, so a new spelling fails loudly
instead of being guessed. ``LABEL_k`` (what Hugging Face writes when nobody named the classes)
is read in finsentry's own order, ``LABELS`` — the order our trainer saves in; any other
checkpoint should name its classes in its config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from models.base import LABELS

SYNONYMS: dict[str, str] = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "none": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
}
_GENERIC = re.compile(r"label_(\d+)")


def normalise_label(name: str) -> str | None:
    """A finsentry label for ``name``, or ``None`` when the spelling is not known."""
    key = name.strip().lower()
    return SYNONYMS.get(key)


def checkpoint_label_order(id2label: Mapping[int, str] | Mapping[str, str]) -> list[int]:
    """For each of ``LABELS`` (negative, neutral, positive), the checkpoint's output index.

    Raises ``ValueError`` naming the offending labels when the mapping is not a bijection onto
    the three finsentry labels.
    """
    ids = {int(k): str(v) for k, v in id2label.items()}
    if sorted(ids) != [0, 1, 2]:
        raise ValueError(
            f"checkpoint has labels {ids}; finsentry needs exactly three classes "
            "(negative, neutral, positive)"
        )
    mapped: dict[str, int] = {}
    unknown: list[str] = []
    for idx, raw in sorted(ids.items()):
        generic = _GENERIC.fullmatch(raw.strip().lower())
        label = LABELS[int(generic.group(1))] if generic and int(generic.group(1)) < 3 else None
        label = label or normalise_label(raw)
        if label is None:
            unknown.append(raw)
        elif label in mapped:
            raise ValueError(f"checkpoint labels {ids} map twice onto {label!r}")
        else:
            mapped[label] = idx
    if unknown:
        known = ", ".join(sorted(SYNONYMS))
        raise ValueError(
            f"cannot map checkpoint label(s) {unknown} onto negative/neutral/positive "
            f"(known names: {known}, LABEL_0..LABEL_2); rename them in the checkpoint's "
            "config.json id2label"
        )
    return [mapped[name] for name in LABELS]
