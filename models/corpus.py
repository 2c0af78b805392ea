"""The written sentiment corpus: parse the writers' files, measure label agreement, remove
near-duplicates, split, and write the CSVs the trainer reads.

Sources (``models/data/corpus/*.txt``) are written sentence by sentence by separate authors,
each from a brief in ``models/data/briefs/``; one author (``h_*``) writes only the blind test
set. A second, independent labelling pass (``models/data/labels/``) gives every row a second
label; rows where the two disagree are resolved by a third reading when one exists
(``labels/adjudicated.tsv``) and dropped otherwise. Near-duplicates (MiniLM cosine ≥ 0.92 or
word-shingle Jaccard ≥ 0.8) are removed within the corpus, and training rows that nearly copy a
blind row are removed from training, so the blind set measures text the model has not seen.

File format (see ``briefs/00-common.md``): ``# register: NAME`` and ``# kind: NAME`` lines set
the register and kind of the lines below; item lines are ``neg: …``, ``neu: …`` or ``pos: …``.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.errors import ConfigError

SHORT = {"neg": "negative", "neu": "neutral", "pos": "positive"}
LABEL_ORDER = ("negative", "neutral", "positive")
BLIND_PREFIX = "h_"
COSINE_DUP = 0.92
JACCARD_DUP = 0.8


@dataclass(frozen=True, slots=True)
class Row:
    id: str  # "<file stem>:<line number>"
    text: str
    label: str
    register: str
    kind: str
    author: str  # the file's letter: one writer per file

    @property
    def blind(self) -> bool:
        return self.author == BLIND_PREFIX[0]


def parse_file(path: Path) -> list[Row]:
    register, kind = "", "plain"
    rows: list[Row] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line.lstrip("#").strip().partition(":")
            if key.strip() == "register":
                register = value.strip()
            elif key.strip() == "kind":
                kind = value.strip() or "plain"
            continue
        head, sep, text = line.partition(":")
        if not sep or head.strip() not in SHORT or not text.strip():
            raise ConfigError(f"{path}:{lineno}: expected 'neg|neu|pos: text'")
        if not register:
            raise ConfigError(f"{path}:{lineno}: item before any '# register:' line")
        rows.append(
            Row(
                id=f"{path.stem}:{lineno}",
                text=text.strip(),
                label=SHORT[head.strip()],
                register=register,
                kind=kind,
                author=path.stem[0],
            )
        )
    return rows


def parse_corpus(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(folder.glob("*.txt")):
        rows.extend(parse_file(path))
    return rows


# -- second labels ----------------------------------------------------------------------------
def write_label_items(rows: Sequence[Row], path: Path, seed: int = 7) -> Path:
    """Text-only items for the second labelling pass (no first labels), shuffled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    order = list(rows)
    random.Random(seed).shuffle(order)
    with path.open("w", encoding="utf-8") as fh:
        for r in order:
            fh.write(f"{opaque_id(r.id)}\t{r.register}\t{r.text}\n")
    return path


def opaque_id(row_id: str) -> str:
    """The id a second labeller sees: it does not point back to the first label's line."""
    return "x" + hashlib.sha256(row_id.encode()).hexdigest()[:12]


def read_labels(paths: Iterable[Path]) -> dict[str, str]:
    """``ID<TAB>neg|neu|pos`` lines → {id: label}; unknown labels are an error."""
    out: dict[str, str] = {}
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = re.split(r"\t+|\s+", line.strip())
            if len(parts) < 2 or parts[-1] not in SHORT:
                raise ConfigError(f"{path}:{lineno}: expected 'ID<TAB>neg|neu|pos'")
            out[parts[0]] = SHORT[parts[-1]]
    return out


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    n = len(a)
    if n == 0:
        return float("nan")
    agree = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (agree - expected) / (1 - expected) if expected < 1 else 1.0


# -- near-duplicates ------------------------------------------------------------------------
_WORD = re.compile(r"[a-z]+|\d+")


def _shingles(text: str, n: int = 2) -> frozenset[tuple[str, ...]]:
    words = ["0" if w.isdigit() else w for w in _WORD.findall(text.lower())]
    if len(words) < n:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def near_duplicate_pairs(
    texts: Sequence[str], embeddings: np.ndarray, block: int = 2048
) -> list[tuple[int, int, str]]:
    """Pairs (i < j) with cosine ≥ COSINE_DUP or word-shingle Jaccard ≥ JACCARD_DUP.

    Jaccard is checked on the pairs whose cosine is ≥ 0.75 (a pair of texts sharing 80% of
    their word pairs is far above that), so the search is one blocked matrix product.
    """
    shingles = [_shingles(t) for t in texts]
    pairs: list[tuple[int, int, str]] = []
    n = len(texts)
    for s in range(0, n, block):
        sims = embeddings[s : s + block] @ embeddings.T
        for bi, row in enumerate(sims):
            i = s + bi
            for hit in np.nonzero(row[i + 1 :] >= 0.75)[0]:
                j = int(hit) + i + 1
                if row[j] >= COSINE_DUP:
                    pairs.append((i, j, "cosine"))
                elif jaccard(shingles[i], shingles[j]) >= JACCARD_DUP:
                    pairs.append((i, j, "jaccard"))
    return pairs


def distinct_ngram_ratio(texts: Iterable[str], n: int = 4) -> float:
    """Distinct word n-grams / all word n-grams: how much the text repeats itself."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for t in texts:
        words = _WORD.findall(t.lower())
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


# -- splitting and writing ------------------------------------------------------------------
def stratified_val(rows: Sequence[Row], fraction: float, seed: int) -> tuple[list[Row], list[Row]]:
    """(train, val) with ``fraction`` of every (register, label) stratum in val."""
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        strata[(r.register, r.label)].append(r)
    train: list[Row] = []
    val: list[Row] = []
    for key in sorted(strata):
        group = strata[key]
        rng.shuffle(group)
        k = round(len(group) * fraction)
        val.extend(group[:k])
        train.extend(group[k:])
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def write_csv(rows: Sequence[Row], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "register", "kind", "author", "id"])
        for r in rows:
            w.writerow([r.text, r.label, r.register, r.kind, r.author, r.id])


def relabel(row: Row, label: str) -> Row:
    return replace(row, label=label)
