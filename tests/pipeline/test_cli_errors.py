"""Bad input at the command line: one clear line on stderr, a non-zero exit, never a traceback.

Each case runs the real ``finsentry`` entry point in a subprocess (as a user would) against real
files and real databases: an unreachable PostgreSQL port, an SQLite file without the schema, a
folder that can't be created, invalid UTF-8, absurd durations, unknown series keys. Wire text
with escape sequences is shown terminal-safe.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.store import SqlStore, make_engine, upgrade
from tests.pipeline.test_cli import run_cli

UNREACHABLE_PG = "postgresql://finsentry@127.0.0.1:1/nothing"


def assert_one_line_error(res: subprocess.CompletedProcess[str], rc: int = 2) -> str:
    assert res.returncode == rc, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("finsentry: error:")]
    assert len(errors) == 1, res.stderr
    return errors[0]


@pytest.fixture
def store_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/store.db"
    eng = make_engine(url)
    upgrade(eng)
    now = datetime.now(UTC).replace(microsecond=0)
    SqlStore(eng).write_batch(
        [
            ScoredArticle(
                article=Article(
                    id="evil",
                    title="Acme \x1b]0;pwned\x07 plunges \x1b[2J\u202egnorw",
                    body=None,
                    url=None,
                    source="wire",
                    lang="en",
                    published_at=now,
                    tickers=("ACME",),
                ),
                prediction=Prediction.from_probs(0.8, 0.15, 0.05),
                model_version="test",
                entities=("ACME",),
            )
        ]
    )
    eng.dispose()
    return url


def test_invalid_utf8_in_classify_and_produce_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "caf\xe9"}\n')
    line = assert_one_line_error(run_cli("classify", str(bad), "--model", "lexicon"))
    assert "line 2" in line and "UTF-8" in line
    line = assert_one_line_error(run_cli("produce", str(bad), "--bootstrap-servers", "127.0.0.1:1"))
    assert "UTF-8" in line


def test_odd_markup_in_classify_input_is_classified() -> None:
    stdin = json.dumps({"id": "m", "text": "<![if !supportLists]><x Acme shares plunge"}) + "\n"
    res = run_cli("classify", "--model", "lexicon", stdin=stdin)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["id"] == "m"


def test_absurd_duration(store_db: str) -> None:
    line = assert_one_line_error(run_cli("query", "--db", store_db, "--since", "99999999d"))
    assert "99999999d" in line


@pytest.mark.parametrize(
    "args",
    [
        ("query", "--db", UNREACHABLE_PG),
        ("db", "upgrade", "--db", UNREACHABLE_PG),
        ("run", "--db", UNREACHABLE_PG, "--bootstrap-servers", "127.0.0.1:1"),
        ("articles", "--db", UNREACHABLE_PG),
        ("keys", "--db", UNREACHABLE_PG),
    ],
)
def test_unreachable_database(args: tuple[str, ...]) -> None:
    line = assert_one_line_error(run_cli(*args))
    assert "127.0.0.1" in line or "connect" in line.lower()


def test_sqlite_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = assert_one_line_error(run_cli("db", "upgrade", "--db", f"sqlite:///{blocker}/sub/x.db"))
    assert "folder" in line


@pytest.mark.parametrize("command", ["query", "articles", "keys", "alerts"])
def test_read_commands_on_a_database_without_schema(tmp_path: Path, command: str) -> None:
    args = [command, "--db", f"sqlite:///{tmp_path}/empty.db"]
    if command == "alerts":
        args = ["alerts", "list", "--db", f"sqlite:///{tmp_path}/empty.db"]
    line = assert_one_line_error(run_cli(*args))
    assert "finsentry db upgrade" in line


def test_unknown_and_empty_keys_suggest_the_closest(store_db: str) -> None:
    line = assert_one_line_error(run_cli("query", "--db", store_db, "--key", "entity:ACMEE"))
    assert "entity:ACME" in line
    assert_one_line_error(run_cli("query", "--db", store_db, "--key", ""))
    assert_one_line_error(run_cli("articles", "--db", store_db, "--key", "topic:nope"))


def test_wire_text_is_terminal_safe(store_db: str) -> None:
    res = run_cli("articles", "--db", store_db, "--since", "2d")
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "\x07" not in res.stdout and "\u202e" not in res.stdout
    assert "\\x1b" in res.stdout and "plunges" in res.stdout
    as_json = run_cli("articles", "--db", store_db, "--since", "2d", "--format", "json")
    assert json.loads(as_json.stdout)[0]["title"].startswith("Acme \x1b]0;pwned")


def test_unexpected_errors_are_one_line_too() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "query", "--db", "notascheme://x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error(res)
