"""Labelled text for training and evaluation, from the two formats users bring.

* **CSV** (UTF-8, header row): columns ``text`` and ``label``; an optional ``register`` (or
  ``style``) column names the kind of text, so evaluation can report per register; any other
  columns are ignored. Labels may be any spelling listed in
  :mod:`models.labels` (``negative``, ``NEG``, ``bearish`` …).
* **Financial PhraseBank** (``Sentences_*.txt``): one ``sentence@label`` per line, latin-1, the
  label after the *last* ``@`` (sentences may contain ``@``).

A bad row is an error with its line number, never silently skipped: a corpus that trains on
half its rows without saying so is worse than one that fails.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from models.base import LABELS
from models.labels import normalise_label
from pipeline.errors import ConfigError

Format = Literal["csv", "phrasebank"]


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str  # one of LABELS
    group: str = ""  # the register (press_release, news_tweet …) where the data says it

    @property
    def label_id(self) -> int:
        return LABELS.index(self.label)


def _label(raw: str, where: str) -> str:
    label = normalise_label(raw)
    if label is None:
        raise ConfigError(f"{where}: unknown label {raw!r} (use negative, neutral or positive)")
    return label


def load_csv(path: Path) -> list[Example]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in reader.fieldnames or []]
            if "text" not in fields or "label" not in fields:
                raise ConfigError(f"{path}: CSV needs a header with 'text' and 'label' columns")
            reader.fieldnames = fields
            out: list[Example] = []
            for row in reader:
                where = f"{path}:{reader.line_num}"
                text, raw = row.get("text"), row.get("label")
                if text is None or raw is None:
                    raise ConfigError(f"{where}: row has too few columns")
                if not text.strip():
                    raise ConfigError(f"{where}: empty text")
                group = (row.get("register") or row.get("style") or "").strip()
                out.append(Example(text.strip(), _label(raw, where), group))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason})") from exc
    except csv.Error as exc:
        raise ConfigError(f"{path}: malformed CSV: {exc}") from exc
    return out


def load_phrasebank(path: Path) -> list[Example]:
    out: list[Example] = []
    with path.open(encoding="latin-1") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            text, sep, raw = line.rpartition("@")
            where = f"{path}:{lineno}"
            if not sep or not text.strip():
                raise ConfigError(f"{where}: expected 'sentence@label'")
            out.append(Example(text.strip(), _label(raw, where)))
    return out


def load_examples(path: str | Path, fmt: Format | None = None) -> list[Example]:
    """Load one file; ``fmt=None`` picks phrasebank for ``.txt`` files, CSV otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}")
    if fmt is None:
        fmt = "phrasebank" if path.suffix.lower() == ".txt" else "csv"
    examples = load_phrasebank(path) if fmt == "phrasebank" else load_csv(path)
    if not examples:
        raise ConfigError(f"{path}: no examples")
    return examples


def load_many(paths: list[str] | list[Path], fmt: Format | None = None) -> list[Example]:
    out: list[Example] = []
    for p in paths:
        out.extend(load_examples(p, fmt))
    return out
