"""Entity tagging: aliases, cashtags, possessives, the tickers field, and the short-ticker false
positives that make naive matchers useless on news ("IT spending", "A rating", "ON the other
hand")."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.entities import EXAMPLE_PATH, EntityTagger, Watchlist, trie_regex
from pipeline.errors import ConfigError

WATCHLIST = """
[[entity]]
id = "AAPL"
name = "Apple Inc."
aliases = ["Apple"]
tickers = ["AAPL"]
exact_case = ["Apple"]

[[entity]]
id = "ACME"
name = "Acme Corporation"
aliases = ["Acme", "Acme Corp"]
tickers = ["ACME"]

[[entity]]
id = "GLOBEX"
name = "Globex Corporation"
aliases = ["Globex"]
tickers = ["GBX"]

[[entity]]
id = "IT"
name = "Gartner Inc."
aliases = ["Gartner"]
tickers = ["IT"]

[[entity]]
id = "AGILENT"
name = "Agilent Technologies"
tickers = ["A"]

[[entity]]
id = "ONSEMI"
name = "onsemi"
aliases = ["ON Semiconductor"]
tickers = ["ON"]

[[entity]]
id = "JPM"
name = "JPMorgan Chase & Co."
aliases = ["JPMorgan", "J.P. Morgan"]
tickers = ["JPM"]
"""


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> EntityTagger:
    path = tmp_path_factory.mktemp("wl") / "watchlist.toml"
    path.write_text(WATCHLIST, encoding="utf-8")
    return EntityTagger.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Apple unveils a new phone", ["AAPL"]),
        ("Apple's profit rose", ["AAPL"]),
        ("Apple\u2019s profit rose", ["AAPL"]),
        ("(Apple) and Acme, Globex.", ["AAPL", "ACME", "GLOBEX"]),
        ("apple harvest was poor", []),  # exact_case alias
        ("Pineapple and Apples", []),
        ("ACME CORP said; acme corp said", ["ACME"]),  # long alias: any case
        ("Acme  Corp\nsaid", ["ACME"]),  # whitespace runs
        ("J.P. Morgan and JPMorgan Chase & Co. agree", ["JPM"]),
        ("Gartner said spending rose", ["IT"]),
    ],
)
def test_aliases(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert tagger.tag(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$AAPL up 3%", ["AAPL"]),
        ("$aapl and $Acme rally", ["AAPL", "ACME"]),
        ("$IT beat, $a missed, $ON flat", ["AGILENT", "IT", "ONSEMI"]),
        ("$TSLA jumps", ["TSLA"]),  # unknown cashtag kept as its ticker
        ("$BRK.B.", ["BRK.B"]),
        ("It cost $5 billion, or US$ 4", []),
        ("US$AAPL", []),  # not a cashtag: glued to a word
    ],
)
def test_cashtags(tagger: EntityTagger, text: str, expected: list[str]) -> None:
    assert tagger.tag(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "IT spending rose 4% this year",
        "A rating cut hit the bonds",
        "ON the other hand, margins held",
        "ALL of the banks were fined",
        "The CEO said AI demand is strong",
        "it was a good day on the exchange",
    ],
)
def test_short_and_stoplisted_tickers_do_not_match_bare(tagger: EntityTagger, text: str) -> None:
    assert tagger.tag(text) == []


def test_bare_tickers_only_uppercase_and_not_shouting(tagger: EntityTagger) -> None:
    assert tagger.tag("Shares of ACME and GBX fell") == ["ACME", "GLOBEX"]
    assert tagger.tag("gbx fell") == []
    assert tagger.tag("GBXY fell; XGBX rose") == []
    # an all-caps headline is not a list of tickers
    assert tagger.tag("GBX SHARES PLUNGE AFTER THE BOARD QUITS") == []
    assert tagger.tag("$GBX SHARES PLUNGE AFTER THE BOARD QUITS") == ["GLOBEX"]


def test_tickers_field(tagger: EntityTagger) -> None:
    assert tagger.tag("", ["aapl", "$gbx", "IT", "A"]) == ["AAPL", "AGILENT", "GLOBEX", "IT"]
    assert tagger.tag("nothing here", ["msft"]) == ["MSFT"]  # unknown: kept, uppercased
    assert tagger.tag("x", ["acme"]) == ["ACME"]  # an entity id works as a ticker too
    assert tagger.tag("x", ["not a ticker!", ""]) == []
    assert tagger.tag("Apple and $AAPL", ["AAPL"]) == ["AAPL"]  # merged, unique
    assert tagger.tag("", "GBX") == ["GLOBEX"]  # a lone string is one ticker


def test_unknown_tickers_can_be_dropped() -> None:
    wl = Watchlist.from_dict(
        {
            "matching": {"unknown_tickers": "drop"},
            "entity": [{"id": "ACME", "name": "Acme Corporation", "tickers": ["ACME"]}],
        }
    )
    tagger = EntityTagger(wl)
    assert tagger.tag("$TSLA and $ACME", ["MSFT"]) == ["ACME"]


def test_stoplist_is_configurable() -> None:
    entity = {"id": "CAT", "name": "Caterpillar Inc.", "tickers": ["CAT", "ZZZ"]}
    default = EntityTagger(Watchlist.from_dict({"entity": [entity]}))
    assert default.tag("CAT rose") == []  # CAT is a stoplist word
    extra = {"matching": {"stoplist": ["THE"], "stoplist_extra": ["ZZZ"]}, "entity": [entity]}
    custom = EntityTagger(Watchlist.from_dict(extra))
    assert custom.tag("CAT rose") == ["CAT"]
    assert custom.tag("ZZZ rose") == []


def test_no_watchlist_keeps_explicit_tickers_only() -> None:
    tagger = EntityTagger.load(None)
    assert tagger.tag("Apple said $aapl rose", ["msft"]) == ["AAPL", "MSFT"]
    assert tagger.tag("Apple said AAPL rose") == []


def test_shipped_example_loads_and_tags() -> None:
    wl = Watchlist.load(EXAMPLE_PATH)
    assert len(wl.entities) >= 20
    tagger = EntityTagger(wl)
    text = "Microsoft and Alphabet's Google beat; Acme Corp cut jobs; IT spending rose"
    assert tagger.tag(text) == ["ACME", "GOOGL", "MSFT"]
    assert tagger.tag_many(["Amazon Web Services outage", "the amazon river"]) == [["AMZN"], []]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[entity]]\nid = 'A'\n", "name is required"),
        ("[[entity]]\nid = 'bad id'\nname = 'X'\n", "id must match"),
        ("[[entity]]\nid = 'X'\nname = 'X'\nalias = ['Y']\n", "unknown keys"),
        ("[[entity]]\nid='X'\nname='X'\n[[entity]]\nid='X'\nname='Y'\n", "duplicate entity id"),
        (
            "[[entity]]\nid='X'\nname='X'\ntickers=['Q']\n[[entity]]\nid='Y'\nname='Y'\n"
            "tickers=['q']\n",
            "ticker 'Q' is listed by",
        ),
        ("[[entity]]\nid='X'\nname='X'\ntickers=['a b']\n", "bad ticker"),
        ("[[entity]]\nid='X'\nname='X'\naliases='Y'\n", "list of non-empty strings"),
        ("[[entity]]\nid='X'\nname='X'\nexact_case=['Y']\n", "not its name or aliases"),
        ("[matching]\nunknown_tickers = 'maybe'\n", "unknown_tickers"),
        ("[matching]\ncase = 1\n", "[matching] takes only"),
        ("entity = 3\n", "[[entity]]"),
        ("[[entity]\n", "not valid TOML"),
    ],
)
def test_bad_watchlists_raise_config_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "wl.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        Watchlist.load(path)


def test_missing_watchlist_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Watchlist.load(tmp_path / "nope.toml")


def test_trie_regex_prefers_longest() -> None:
    import re

    rx = re.compile(rf"(?:{trie_regex(['Acme', 'Acme Corp', 'Ac'])})(?!\w)")
    assert [m.group(0) for m in rx.finditer("Acme Corp, Acme Corpus, Ac")] == [
        "Acme Corp",
        "Acme",
        "Ac",
    ]
