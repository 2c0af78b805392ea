"""The docs against the code: what README.md and docs/*.md say must exist, exists.

Prose drifts silently; these checks make the drift a failing test instead:

* every ``finsentry <command> [<sub-command>] [--flag …]`` written in a code span or a shell
  block parses against the real CLI parser (``pipeline.cli.build_parser``): the command, the
  sub-command and each ``--flag``;
* every environment name ``FINSENTRY_<SECTION>__<FIELD>`` names a field of the settings model;
* every TOML block in the docs is a valid settings file (``load_settings`` accepts it);
* every Prometheus name ``finsentry_*`` is an instrument registered by the metrics modules,
  and every registered instrument is documented somewhere;
* every relative link resolves to a file, and a ``#fragment`` to one of its headings.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from pipeline.cli import build_parser
from pipeline.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
# The user-facing docs. alerts/README.md is the detector's reference that docs/alerts.md links.
DOCS = sorted([ROOT / "README.md", ROOT / "alerts" / "README.md", *(ROOT / "docs").glob("**/*.md")])
# Environment names that are not settings fields: the settings file itself, the test suite's
# PostgreSQL server.
NOT_SETTINGS = {"FINSENTRY_CONFIG", "FINSENTRY_TEST_PG_URL"}
METRICS_MODULES = ("consumers.metrics", "alerts.metrics", "pipeline.metrics")
SHELL_LANGS = {"", "bash", "sh", "shell", "console", "text", "ini", "systemd", "yaml"}

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
COMMAND = re.compile(r"(?:^|(?<=[\s(])|(?<=bin/)|(?<=\$ ))finsentry[ \t]+([^\n|;&#)]*)")
ENV = re.compile(r"\bFINSENTRY_[A-Z0-9_]*[A-Z0-9]")
METRIC = re.compile(r"\bfinsentry_[a-z0-9_]*[a-z0-9]\b")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _doc_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code(text: str) -> Iterator[tuple[str, str]]:
    """(language, code) of every fenced block, then ('inline', span) of every code span outside
    the fenced blocks."""
    for m in FENCE.finditer(text):
        yield m.group(1).lower(), m.group(2)
    for span in INLINE.findall(FENCE.sub("", text)):
        yield "inline", span


# -- commands ---------------------------------------------------------------------------------
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return None


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {opt for action in parser._actions for opt in action.option_strings}


def check_command(root: argparse.ArgumentParser, words: list[str]) -> str | None:
    """Why ``finsentry <words>`` would not parse, or None. Placeholders (``ID``, ``FILE``,
    values) are skipped; sub-commands, and flags of the (sub-)command reached, are checked."""
    parser, path = root, ["finsentry"]
    expects_value = False
    for word in words:
        word = word.strip("[]{}…,.:")
        if not word or word in ("...", "\\"):
            continue
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            if flag not in _options(parser):
                return f"{' '.join(path)} has no option {flag}"
            action = next(a for a in parser._actions if flag in a.option_strings)
            expects_value = action.nargs != 0 and "=" not in word
            continue
        if expects_value:
            expects_value = False
            continue
        if re.fullmatch(r"[A-Z][A-Z0-9_|:.]*", word):
            continue  # a placeholder: COMMAND, ID, FILE, NAME|PATH
        subs = _subcommands(parser)
        if subs is None:
            continue  # a positional argument or a placeholder
        if word not in subs:
            if len(path) == 1 or not re.fullmatch(r"[a-z][a-z-]*", word):
                return f"{' '.join(path)} has no command {word!r}"
            return f"{' '.join(path)} has no sub-command {word!r}"
        parser, path = subs[word], [*path, word]
    return None


def _mentions() -> Iterator[tuple[str, str]]:
    """(doc, command line after 'finsentry') for every command written in code."""
    for doc in DOCS:
        for lang, code in _code(_text(doc)):
            if lang not in SHELL_LANGS and lang != "inline":
                continue
            for m in COMMAND.finditer(code):
                yield _doc_id(doc), m.group(1).strip()


MENTIONS = sorted(set(_mentions()))


def test_docs_mention_commands() -> None:
    # the check below must have something to check: the README lists the CLI at a glance
    readme = [m for d, m in MENTIONS if d == "README.md"]
    assert len(readme) >= 10, readme
    for needed in ("run", "db upgrade", "alerts backtest", "rescore"):
        assert any(m.startswith(needed) for m in readme), needed


@pytest.mark.parametrize(("doc", "line"), MENTIONS)
def test_documented_command_exists(doc: str, line: str) -> None:
    problem = check_command(build_parser(), line.split())
    assert problem is None, f"{doc}: `finsentry {line}`: {problem}"


def test_command_check_can_fail() -> None:
    parser = build_parser()
    assert check_command(parser, ["alerts", "list", "--status", "firing"]) is None
    assert check_command(parser, ["alerts", "lst"]) is not None
    assert check_command(parser, ["query", "--kee", "all"]) is not None
    assert check_command(parser, ["frobnicate"]) is not None
    assert check_command(parser, ["COMMAND", "--help"]) is None


# -- settings ---------------------------------------------------------------------------------
def _model_of(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``Annotated[X, …]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def env_problem(name: str) -> str | None:
    """Why ``name`` is not a settings environment variable, or None."""
    if name in NOT_SETTINGS:
        return None
    parts = name.removeprefix("FINSENTRY_").lower().split("__")
    model: type[BaseModel] | None = Settings
    for i, part in enumerate(parts):
        if model is None:
            return f"{'.'.join(parts[:i])} has no sub-fields"
        field = model.model_fields.get(part)
        if field is None:
            return f"no setting {'.'.join(parts[: i + 1])}"
        model = _model_of(field.annotation)
    return None


def _env_names() -> list[tuple[str, str]]:
    return sorted({(_doc_id(d), n) for d in DOCS for n in ENV.findall(_text(d))})


@pytest.mark.parametrize(("doc", "name"), _env_names())
def test_documented_env_name_is_a_setting(doc: str, name: str) -> None:
    problem = env_problem(name)
    assert problem is None, f"{doc}: {name}: {problem}"


def test_env_check_can_fail() -> None:
    assert env_problem("FINSENTRY_KAFKA__BOOTSTRAP_SERVERS") is None
    assert env_problem("FINSENTRY_ALERTS__DETECTOR__ALPHA") is None
    assert env_problem("FINSENTRY_KAFKA__BOOTSTRAP") is not None
    assert env_problem("FINSENTRY_STORE__URL__X") is not None


def _toml_blocks() -> list[tuple[str, int, str]]:
    out = []
    for doc in DOCS:
        if doc.parent.name == "alerts":  # its examples carry "…" placeholders for secrets
            continue
        for i, (lang, code) in enumerate(_code(_text(doc))):
            if lang != "toml":
                continue
            # a settings file, not another TOML file (a taxonomy, a watchlist): it names at
            # least one settings section or field
            top = {k.split(".")[0] for k in tomllib.loads(code)}
            if top & set(Settings.model_fields):
                out.append((_doc_id(doc), i, code))
    return out


@pytest.mark.parametrize(("doc", "index", "code"), _toml_blocks())
def test_documented_toml_is_valid_settings(
    doc: str, index: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("FINSENTRY_"):
            monkeypatch.delenv(name)
    path = tmp_path / "settings.toml"
    path.write_text(code, encoding="utf-8")
    load_settings(path)  # raises ConfigError on an unknown key or a bad value


# -- metrics ----------------------------------------------------------------------------------
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created", "_info")


def _registered_metrics() -> set[str]:
    """Family names of every finsentry instrument on the default registry."""
    from prometheus_client import REGISTRY

    for module in METRICS_MODULES:
        importlib.import_module(module)
    return {m.name for m in REGISTRY.collect() if m.name.startswith("finsentry_")}


def metric_known(name: str, families: set[str]) -> bool:
    if name in families:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in families for s in _SUFFIXES)


def test_documented_metrics_are_registered() -> None:
    families = _registered_metrics()
    assert len(families) >= 11, families  # the instruments of the metrics contract
    names = {(_doc_id(d), n) for d in DOCS for n in METRIC.findall(_text(d))}
    # database names such as finsentry_test_… are not metrics
    names = {(d, n) for d, n in names if not n.startswith("finsentry_test")}
    unknown = sorted(f"{d}: {n}" for d, n in names if not metric_known(n, families))
    assert not unknown, unknown
    documented = {n for _, n in names}
    undocumented = sorted(f for f in families if not any(metric_known(n, {f}) for n in documented))
    assert not undocumented, f"instruments missing from the docs: {undocumented}"


# -- links ------------------------------------------------------------------------------------
def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", _text(path))
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def _links() -> list[tuple[str, str]]:
    out = set()
    for doc in DOCS:
        text = FENCE.sub("", _text(doc))
        for a, b in LINK.findall(text):
            target = a or b
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            out.add((_doc_id(doc), target))
    return sorted(out)


@pytest.mark.parametrize(("doc", "target"), _links())
def test_relative_link_resolves(doc: str, target: str) -> None:
    file, _, fragment = target.partition("#")
    source = ROOT / doc
    dest = (source.parent / file).resolve() if file else source
    assert dest.exists(), f"{doc}: link {target} -> {dest} does not exist"
    if fragment and dest.suffix == ".md":
        assert fragment in _anchors(dest), f"{doc}: no heading #{fragment} in {dest.name}"


def test_slugs_follow_github() -> None:
    assert _slug("Single active detector (the lease)") == "single-active-detector-the-lease"
    assert _slug("`finsentry rescore`: backfill") == "finsentry-rescore-backfill"
