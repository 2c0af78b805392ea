"""The topic taxonomy: the file people read and extend, and its keyword syntax.

``models/taxonomy.toml`` is the contract — ids, names, keywords, regexes — that every topic
tagger emits from; a user's file may extend or replace it. This module parses and validates it
(a bad file fails on load, naming the file and the topic, never on the first article) and turns
a keyword into its regex atoms; :mod:`models.topic_rules` compiles those into the scanner.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.regex_trie import trie_pattern
from pipeline.errors import ConfigError

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.toml")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOPIC_KEYS = {"id", "name", "description", "keywords", "regex", "threshold"}


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    threshold: float | None = None


_WILD_WORDS = r"\S+(?:\s+\S+){0,2}?"


def keyword_atoms(keyword: str) -> list[str]:
    r"""A keyword as regex atoms: lowercased characters, ``\s+`` between words, ``\w*`` for a
    trailing ``*``, one to three words for a lone ``*``."""
    atoms: list[str] = []
    for token in keyword.split():
        if atoms:
            atoms.append(r"\s+")
        if token == "*":
            atoms.append(_WILD_WORDS)
            continue
        star = token.endswith("*")
        atoms.extend(re.escape(ch) for ch in (token[:-1] if star else token).lower())
        if star:
            atoms.append(r"\w*")
    return atoms


def keyword_pattern(keyword: str) -> str:
    """Regex for one taxonomy keyword (compile case-insensitively): word-bounded,
    whitespace-tolerant; ``word*`` matches any ending, a lone ``*`` one to three words."""
    return r"(?<!\w)" + "".join(keyword_atoms(keyword)) + r"(?!\w)"


def compile_rules(topic: Topic) -> re.Pattern[str] | None:
    """One case-insensitive pattern for a topic (its keywords as a trie, then its regexes);
    raises :class:`ConfigError` for a regex that does not compile."""
    alts = []
    if topic.keywords:
        alts.append(
            r"(?<!\w)" + trie_pattern([keyword_atoms(k) for k in topic.keywords]) + r"(?!\w)"
        )
    for rx in topic.regex:
        try:
            re.compile(rx)
        except re.error as exc:
            raise ConfigError(f"topic {topic.id!r}: bad regex {rx!r}: {exc}") from exc
        alts.append(f"(?:{rx})")
    return re.compile("|".join(alts), re.IGNORECASE) if alts else None


@dataclass(frozen=True)
class Taxonomy:
    """The ordered topics a tagger may emit. Load with :meth:`load`; ``None`` = shipped file.

    A file may start with ``extends = "default"`` (or a path) to build on another taxonomy:
    new ids are appended; for an existing id, given fields replace the base's except
    ``keywords`` and ``regex``, which are appended; ``remove = [ids]`` drops topics.
    """

    topics: tuple[Topic, ...]
    source: str = "<memory>"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)

    def __getitem__(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        p = Path(path) if path is not None else TAXONOMY_PATH
        if not p.is_file():
            raise ConfigError(f"taxonomy file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"taxonomy {p}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, source=str(p), base_dir=p.parent)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "<memory>", base_dir: Path | None = None
    ) -> Taxonomy:
        unknown = set(data) - {"version", "topic", "extends", "remove"}
        if unknown:
            raise ConfigError(f"taxonomy {source}: unknown keys {sorted(unknown)}")
        base: dict[str, Topic] = {}
        if (ext := data.get("extends")) is not None:
            if not isinstance(ext, str):
                raise ConfigError(f"taxonomy {source}: 'extends' must be a string")
            ext_path = None if ext == "default" else Path(base_dir or ".") / ext
            base = {t.id: t for t in cls.load(ext_path).topics}
        for rid in _str_list(data.get("remove", []), f"taxonomy {source}: remove"):
            if rid not in base:
                raise ConfigError(f"taxonomy {source}: cannot remove unknown topic {rid!r}")
            del base[rid]
        raw = data.get("topic", [])
        if not isinstance(raw, list):
            raise ConfigError(f"taxonomy {source}: use [[topic]] tables")
        seen: set[str] = set()
        for i, entry in enumerate(raw):
            topic = _parse_topic(entry, f"taxonomy {source}: topic #{i + 1}", base)
            if topic.id in seen:
                raise ConfigError(f"taxonomy {source}: duplicate topic id {topic.id!r}")
            seen.add(topic.id)
            base[topic.id] = topic
        if not base:
            raise ConfigError(f"taxonomy {source}: no topics")
        for t in base.values():
            compile_rules(t)  # fail on load, not on the first article
        return cls(tuple(base.values()), source)


def _str_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def _parse_topic(entry: object, where: str, base: Mapping[str, Topic]) -> Topic:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(entry) - _TOPIC_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    tid = entry.get("id")
    if not isinstance(tid, str) or not _ID.match(tid):
        raise ConfigError(f"{where}: id must match {_ID.pattern} (got {tid!r})")
    where = f"{where} ({tid})"
    old = base.get(tid)
    keywords = _str_list(entry.get("keywords", []), f"{where}: keywords")
    regex = _str_list(entry.get("regex", []), f"{where}: regex")
    name = entry.get("name", old.name if old else None)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name is required")
    desc = entry.get("description", old.description if old else "")
    if not isinstance(desc, str):
        raise ConfigError(f"{where}: description must be a string")
    thr = entry.get("threshold", old.threshold if old else None)
    if thr is not None and (isinstance(thr, bool) or not isinstance(thr, int | float)):
        raise ConfigError(f"{where}: threshold must be a number")
    if thr is not None and not 0.0 < thr <= 1.0:
        raise ConfigError(f"{where}: threshold must be in (0, 1]")
    if old is not None:
        keywords = [*old.keywords, *keywords]
        regex = [*old.regex, *regex]
    if not keywords and not regex:
        raise ConfigError(f"{where}: give at least one keyword or regex")
    return Topic(tid, name.strip(), desc.strip(), tuple(keywords), tuple(regex), thr)
