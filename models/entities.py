"""Entity tagging: which watched names an article mentions.

Why one regex: the daemon tags every article, and watchlists grow to thousands of names. All
aliases and tickers are folded into character tries and compiled into a single pattern, so a
text is scanned once whatever the watchlist size, and the group that matched says which rule
applies.

The rules (docs/tagging.md has the file format):

* **aliases** (the display name is one) match on word boundaries, so "Apple's" and "(Apple)"
  match but "Apples" and "Pineapple" do not. Long aliases match in any case; aliases of at most
  ``exact_case_max_len`` characters, aliases in the stoplist, and those an entry lists under
  ``exact_case`` match only as written.
* **cashtags** (``$AAPL``, any case after the ``$``) always count.
* **bare tickers** count only in uppercase, word-bounded, at least three characters, not in the
  stoplist ("IT", "ON", "ALL", "CEO", "AI" …), and not in shouting text (mostly capitals, such
  as an all-caps headline). Shorter or stoplisted tickers count only as cashtags or through
  the message's ``tickers`` field.
* the message's **tickers** field maps through the watchlist's tickers. A cashtag or listed
  ticker the watchlist does not know is kept as its uppercased ticker (``unknown_tickers =
  "keep"``, the default) or dropped (``"drop"``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.config import TaggingSettings
from models.regex_trie import trie_pattern
from pipeline.errors import ConfigError

EXAMPLE_PATH = Path(__file__).with_name("watchlist.example.toml")
DEFAULT_STOPLIST = frozenset(
    """
    A I AN AS AT BE BY DO GO HE IF IN IS IT ME MY NO OF OH OK ON OR SO TO UP US WE
    ALL AND ANY ARE BIG BUY CAN CAR CAT DAY DUE EAT FOR FUN GET HAS HER HIM HIS HOT HOW
    KEY LOW MAN MAY NEW NOT NOW OLD ONE OUR OUT OWN PAY PUT RUN SAW SAY SEE SHE SIX TEN
    THE TOP TWO USE WAS WAY WHO WHY WIN YES YET YOU
    ALSO BACK BEST CASH EVER FAST FIVE FOUR FREE GAIN GOOD HAS HOME JUST LIFE LIKE LOVE
    MAIN MORE MOST NEXT NICE ONLY OPEN OVER PEAK PLAY REAL SAFE SAVE SEES SELL SOME TRUE
    VERY WELL WHEN WILL WITH
    AI AM PM CEO CFO COO CTO CIO EPS ETF ETFS IPO IPOS GDP CPI PPI PMI FED ECB BOE BOJ SEC FDA
    FTC DOJ EU UK USA UN IMF NYSE ESG EV EVS API PE PR HR IRS ATM YOY QOQ LLC INC LTD PLC
    CORP CO NV AG SA SE USD EUR GBP JPY CNY OPEC TV PC OTC ADR EBIT EBITDA FY Q1 Q2 Q3 Q4
    H1 H2 NASDAQ DOW
    """.split()  # noqa: SIM905 — a word list reads better than 180 quoted strings
)
_ENTITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,14}$")
_ENTITY_KEYS = {"id", "name", "aliases", "tickers", "sector", "exact_case"}
_MATCHING_KEYS = {"exact_case_max_len", "stoplist", "stoplist_extra", "unknown_tickers"}
_CASHTAG = r"(?<![\w$])\$(?P<cash>[A-Za-z][A-Za-z0-9]{0,9}(?:[.\-][A-Za-z0-9]{1,4})?)(?!\w)"


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    tickers: tuple[str, ...] = ()
    sector: str | None = None
    exact_case: tuple[str, ...] = ()


@dataclass(frozen=True)
class Watchlist:
    """Watched entities plus the matching policy; build with :meth:`load`."""

    entities: tuple[Entity, ...] = ()
    stoplist: frozenset[str] = field(default=DEFAULT_STOPLIST)
    exact_case_max_len: int = 4
    unknown_tickers: Literal["keep", "drop"] = "keep"
    source: str = "<memory>"

    def __getitem__(self, entity_id: str) -> Entity:
        for e in self.entities:
            if e.id == entity_id:
                return e
        raise KeyError(entity_id)

    @classmethod
    def load(cls, path: str | Path) -> Watchlist:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"watchlist file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"watchlist {p}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<memory>") -> Watchlist:
        where = f"watchlist {source}"
        unknown = set(data) - {"version", "matching", "entity"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        opts = data.get("matching", {})
        if not isinstance(opts, dict) or set(opts) - _MATCHING_KEYS:
            raise ConfigError(f"{where}: [matching] takes only {sorted(_MATCHING_KEYS)}")
        max_len = opts.get("exact_case_max_len", 4)
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 0:
            raise ConfigError(f"{where}: exact_case_max_len must be a non-negative integer")
        policy = opts.get("unknown_tickers", "keep")
        if policy not in ("keep", "drop"):
            raise ConfigError(f"{where}: unknown_tickers must be 'keep' or 'drop'")
        stop = DEFAULT_STOPLIST
        if "stoplist" in opts:
            stop = frozenset(s.upper() for s in _strings(opts["stoplist"], f"{where}: stoplist"))
        extra = _strings(opts.get("stoplist_extra", []), f"{where}: stoplist_extra")
        stop = stop | {s.upper() for s in extra}
        raw = data.get("entity", [])
        if not isinstance(raw, list):
            raise ConfigError(f"{where}: use [[entity]] tables")
        entities = [_parse_entity(e, f"{where}: entity #{i + 1}") for i, e in enumerate(raw)]
        ids: set[str] = set()
        owner: dict[str, str] = {}
        for e in entities:
            if e.id in ids:
                raise ConfigError(f"{where}: duplicate entity id {e.id!r}")
            ids.add(e.id)
            for t in e.tickers:
                if t in owner:
                    raise ConfigError(
                        f"{where}: ticker {t!r} is listed by {owner[t]!r} and {e.id!r}"
                    )
                owner[t] = e.id
        return cls(tuple(entities), stop, max_len, policy, source)


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return [" ".join(v.split()) for v in value]


def _parse_entity(entry: object, where: str) -> Entity:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(entry) - _ENTITY_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_ENTITY_KEYS)})"
        )
    eid = entry.get("id")
    if not isinstance(eid, str) or not _ENTITY_ID.match(eid):
        raise ConfigError(f"{where}: id must match {_ENTITY_ID.pattern} (got {eid!r})")
    where = f"{where} ({eid})"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name is required")
    sector = entry.get("sector")
    if sector is not None and not isinstance(sector, str):
        raise ConfigError(f"{where}: sector must be a string")
    aliases = _strings(entry.get("aliases", []), f"{where}: aliases")
    tickers = [
        t.lstrip("$").upper() for t in _strings(entry.get("tickers", []), f"{where}: tickers")
    ]
    for t in tickers:
        if not _TICKER.match(t):
            raise ConfigError(f"{where}: bad ticker {t!r}")
    exact = _strings(entry.get("exact_case", []), f"{where}: exact_case")
    names = [" ".join(name.split()), *aliases]
    if missing := [a for a in exact if a not in names]:
        raise ConfigError(f"{where}: exact_case lists {missing}, which are not its name or aliases")
    return Entity(
        eid,
        " ".join(name.split()),
        tuple(aliases),
        tuple(dict.fromkeys(tickers)),
        sector,
        tuple(exact),
    )


def trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of ``words`` (longest first); a space in a word matches any run of
    whitespace."""
    return trie_pattern([r"\s+" if ch == " " else re.escape(ch) for ch in w] for w in words)


class EntityTagger:
    """Tags a text with the sorted, unique ids of the entities it mentions."""

    def __init__(self, watchlist: Watchlist | None = None) -> None:
        self.watchlist = wl = watchlist or Watchlist()
        self._exact: dict[str, set[str]] = {}
        self._folded: dict[str, set[str]] = {}
        self._tickers: dict[str, str] = {}
        self._ids = {e.id.upper(): e.id for e in wl.entities}
        bare: set[str] = set()
        for e in wl.entities:
            for alias in (e.name, *e.aliases):
                exact = (
                    len(alias) <= wl.exact_case_max_len
                    or alias in e.exact_case
                    or alias.upper() in wl.stoplist
                )
                if exact:
                    self._exact.setdefault(alias, set()).add(e.id)
                else:
                    self._folded.setdefault(alias.casefold(), set()).add(e.id)
            for t in e.tickers:
                self._tickers[t] = e.id
                if len(t) > 2 and t not in wl.stoplist:
                    bare.add(t)
        alts = [
            f"(?P<folded>(?i:{trie_regex(self._folded)}))" if self._folded else "",
            f"(?P<exact>{trie_regex(self._exact)})" if self._exact else "",
            f"(?P<bare>{trie_regex(bare)})" if bare else "",
        ]
        words = "|".join(a for a in alts if a)
        pattern = _CASHTAG + (rf"|(?<![\w$])(?:{words})(?!\w)" if words else "")
        self._pattern = re.compile(pattern)

    @classmethod
    def load(cls, path: str | Path | None) -> EntityTagger:
        """``None`` = no watchlist: only cashtags and the tickers field produce entities."""
        return cls(Watchlist.load(path) if path is not None else None)

    @classmethod
    def from_settings(cls, tagging: TaggingSettings) -> EntityTagger:
        """The watchlist named by ``tagging.watchlist`` (a path or ``None``)."""
        return cls.load(tagging.watchlist)

    def _ticker_entity(self, ticker: str) -> str | None:
        t = ticker.strip().lstrip("$").upper()
        if t in self._tickers:
            return self._tickers[t]
        if t in self._ids:
            return self._ids[t]
        if self.watchlist.unknown_tickers == "keep" and _TICKER.match(t):
            return t
        return None

    def tag(self, text: str, tickers: Sequence[str] = ()) -> list[str]:
        found: set[str] = set()
        if isinstance(tickers, str):  # a lone string is one ticker, not a list of letters
            tickers = [tickers]
        for t in tickers:
            if isinstance(t, str) and (eid := self._ticker_entity(t)) is not None:
                found.add(eid)
        if text:
            shouting: bool | None = None
            for m in self._pattern.finditer(text):
                kind = m.lastgroup
                s = m.group(kind or 0)
                if kind == "cash":
                    if (eid := self._ticker_entity(s)) is not None:
                        found.add(eid)
                elif kind == "folded":
                    found |= self._folded.get(" ".join(s.split()).casefold(), set())
                elif kind == "exact":
                    found |= self._exact.get(" ".join(s.split()), set())
                elif kind == "bare":
                    if shouting is None:
                        shouting = _shouting(text)
                    if not shouting:
                        found.add(self._tickers[s])
        return sorted(found)

    def tag_many(
        self, texts: Sequence[str], tickers: Sequence[Sequence[str]] | None = None
    ) -> list[list[str]]:
        if tickers is not None and len(tickers) != len(texts):
            raise ValueError("tag_many: one tickers list per text")
        return [self.tag(t, tickers[i] if tickers else ()) for i, t in enumerate(texts)]


def _shouting(text: str) -> bool:
    """Mostly capitals (an all-caps headline): bare tickers there are just words."""
    upper = sum(1 for c in text if c.isupper())
    lower = sum(1 for c in text if c.islower())
    return upper >= 12 and upper > 1.5 * lower
