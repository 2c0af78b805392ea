"""Stories, not copies: syndicated copies and near-copies of one story share a ``story_id``.

Ten outlets running one headline are one piece of news. Each article's title (or, without one,
the lead of its body) is normalised — case, wire prefixes such as ``UPDATE 1-`` or ``BRIEF-``,
links, cashtag signs, punctuation and digits' formatting — and then matched two ways, within a
horizon of 48 hours:

* **exact**: the story id is a hash of the normalised text, so exact copies get the same id on
  every daemon with no coordination (and a redelivered article gets its own story back);
* **near**: word-set Jaccard ≥ 0.75 between the normalised texts (a copy with a word or two
  changed or added). Candidates come from a MinHash of the word set in eight bands of two
  hashes, each band indexed in the store: two texts with Jaccard 0.8 share at least one band
  with probability ≈ 0.9997, so the lookup is a few indexed equality matches, and every
  candidate is then verified on the exact Jaccard. The earliest matching story wins.

Two daemons that see the first two near-copies of a new story in the same instant may open two
stories for it (exact copies never do); the next copy joins the earlier one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

HORIZON = timedelta(hours=48)
_PREFIX = re.compile(
    r"^\s*((update|rpt|corrected|exclusive|brief|refile|wrapup|factbox|breaking|just in)"
    r"(\s*\d+)?\s*[-:]\s*)+",
    re.IGNORECASE,
)
_LINK = re.compile(r"https?://\S+")
_WORD = re.compile(r"[a-z0-9]+")


BANDS = 8
MIN_JACCARD = 0.75


@dataclass(frozen=True, slots=True)
class Signature:
    """What story matching needs of one article."""

    exact_id: str  # the story id exact copies share
    text: str  # the normalised text (kept with the story, to verify near matches)
    bands: tuple[int, ...]  # BANDS MinHash bands, each a non-negative 31-bit int


def normalise(text: str) -> str:
    text = _LINK.sub(" ", text)
    text = _PREFIX.sub("", text)
    return " ".join(_WORD.findall(text.lower().replace("$", "")))


def _h(token: str, seed: int) -> int:
    digest = hashlib.blake2b(token.encode(), digest_size=8, salt=seed.to_bytes(16, "big"))
    return int.from_bytes(digest.digest(), "big")


@lru_cache(maxsize=32_768)
def _word_hashes(word: str) -> tuple[int, ...]:
    """The word's 2·BANDS MinHash values; news reuses its words, so they are cached (the
    hashing was the largest CPU cost of storing a batch)."""
    return tuple(_h(word, seed) for seed in range(2 * BANDS))


def minhash_bands(words: set[str]) -> tuple[int, ...]:
    words = words or {""}
    hashes = [_word_hashes(w) for w in words]
    out = []
    for b in range(BANDS):
        lo = min(h[2 * b] for h in hashes)
        hi = min(h[2 * b + 1] for h in hashes)
        out.append(
            int.from_bytes(hashlib.blake2b(f"{lo}:{hi}".encode(), digest_size=4).digest(), "big")
            & 0x7FFFFFFF
        )
    return tuple(out)


def signature(title: str | None, body: str | None) -> Signature:
    basis = normalise(title or "") or normalise((body or "")[:300])
    exact = "st:" + hashlib.sha256(basis.encode()).hexdigest()[:24]
    return Signature(exact, basis, minhash_bands(set(basis.split())))


def jaccard(a: str, b: str) -> float:
    sa, sb = set(a.split()), set(b.split())
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


@dataclass(frozen=True, slots=True)
class Known:
    """A story already in the store (or opened earlier in the same batch)."""

    story_id: str
    first_seen: datetime
    text: str


def match(sig: Signature, published_at: datetime, known: list[Known]) -> str | None:
    """The earliest known story within the horizon that ``sig`` is a copy of, if any."""
    best: Known | None = None
    for k in known:
        if abs(published_at - k.first_seen) > HORIZON:
            continue
        copy = k.story_id == sig.exact_id or (
            min(len(sig.text.split()), len(k.text.split())) >= 4
            and jaccard(k.text, sig.text) >= MIN_JACCARD
        )
        if copy and (best is None or (k.first_seen, k.story_id) < (best.first_seen, best.story_id)):
            best = k
    return None if best is None else best.story_id
