"""The command line as a user runs it: classify offline, db upgrade, query formats."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from consumers.records import Article, ScoredArticle
from models.base import Prediction
from pipeline.cli import main
from pipeline.store import SqlStore, make_engine


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_classify_round_trip_offline() -> None:
    lines = [
        {"id": "n1", "text": "Acme shares plunge after profit warning"},
        {"id": "n2", "title": "Acme beats estimates", "body": "<p>and raises guidance</p>"},
        {"id": "n3", "text": "The annual general meeting will be held on 5 May"},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    res = run_cli("classify", "--model", "lexicon", "--explain", stdin=stdin)
    assert res.returncode == 1  # one bad line: reported, the rest still classified
    assert "line 4" in res.stderr
    out = [json.loads(x) for x in res.stdout.splitlines()]
    assert [o["id"] for o in out] == ["n1", "n2", "n3"]
    assert [o["label"] for o in out] == ["negative", "positive", "neutral"]
    for o in out:
        assert set(o) >= {"id", "label", "p_negative", "p_neutral", "p_positive", "score"}
        assert abs(o["p_negative"] + o["p_neutral"] + o["p_positive"] - 1) < 1e-4
        assert abs(o["score"] - (o["p_positive"] - o["p_negative"])) < 1e-4
    assert "plunge" in [t for t, _ in out[0]["explanation"]]


def test_classify_reads_a_file(tmp_path: object) -> None:
    from pathlib import Path

    f = Path(str(tmp_path)) / "docs.jsonl"
    f.write_text(json.dumps({"id": 1, "text": "Revenue fell 10%"}) + "\n")
    res = run_cli("classify", str(f), "--model", "lexicon")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["label"] == "negative"


def test_missing_file_is_a_clear_error() -> None:
    res = run_cli("classify", "/nonexistent.jsonl", "--model", "lexicon")
    assert res.returncode == 2
    assert "no such file" in res.stderr


def test_db_upgrade_then_query_formats(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", db_url]) == 0
    assert "revision" in capsys.readouterr().out
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    eng = make_engine(db_url)
    items = [
        ScoredArticle(
            Article(f"q{i}", f"t{i}", None, None, "wire", None, now - timedelta(minutes=90 - i)),
            Prediction.from_probs(0.7, 0.2, 0.1) if i % 2 else Prediction.from_probs(0.1, 0.2, 0.7),
            "m",
        )
        for i in range(60)
    ]
    SqlStore(eng).write_batch(items)
    eng.dispose()

    assert (
        main(["query", "--db", db_url, "--since", "3h", "--every", "1h", "--format", "json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert sum(r["n"] for r in rows) == 60
    assert sum(r["n_neg"] for r in rows) == 30
    assert all(r["bucket_start"].endswith(":00:00Z") for r in rows)

    assert main(["query", "--db", db_url, "--since", "3h", "--every", "1h", "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("bucket_start,n,n_neg")

    assert main(["query", "--db", db_url, "--key", "source:wire", "--since", "3h"]) == 0
    assert "neg_share" in capsys.readouterr().out

    assert (
        main(
            ["articles", "--db", db_url, "--since", "3h", "--label", "negative", "--format", "json"]
        )
        == 0
    )
    arts = json.loads(capsys.readouterr().out)
    assert len(arts) == 20 and {a["label"] for a in arts} == {"negative"}
    assert {a["copies"] for a in arts} == {1}  # distinct titles: one story each


def test_articles_explain_fills_the_words_with_the_labelling_model(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.lexicon import LexiconClassifier

    assert main(["db", "upgrade", "--db", db_url]) == 0
    capsys.readouterr()
    lexicon = LexiconClassifier()
    title = "Acme shares plunge after profit warning"
    [pred] = lexicon.classify([title])  # stored as the daemon stores it: no explanation
    now = datetime.now(UTC)
    eng = make_engine(db_url)
    SqlStore(eng).write_batch(
        [ScoredArticle(Article("x1", title, None, None, "wire", None, now), pred, lexicon.version)]
    )
    eng.dispose()
    query = ["articles", "--db", db_url, "--since", "1h", "--format", "json"]

    assert main(query) == 0
    [plain] = json.loads(capsys.readouterr().out)
    assert plain["why"] == ""  # not computed yet, and a plain query computes nothing

    assert main([*query, "--model", "lexicon", "--explain"]) == 0
    [explained] = json.loads(capsys.readouterr().out)
    assert "plunge" in explained["why"].split()
    assert set(explained["why"].split()) <= set(title.split())


def test_bad_duration_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--db", "sqlite:///:memory:", "--since", "yesterday-ish"]) == 2
    assert "not a time" in capsys.readouterr().err


def test_run_refuses_a_schema_that_is_behind(tmp_path: object) -> None:
    res = run_cli(
        "run",
        "--db",
        f"sqlite:///{tmp_path}/empty.db",
        "--model",
        "lexicon",
        "--bootstrap-servers",
        "127.0.0.1:1",
    )
    assert res.returncode == 2
    assert "finsentry db upgrade" in res.stderr


def test_secrets_never_reach_output(tmp_path: object) -> None:
    url = "postgresql://finsentry:s3cr3t-pass@127.0.0.1:1/none"
    res = run_cli("db", "current", "--db", url)
    assert "s3cr3t-pass" not in res.stderr + res.stdout


def test_settings_from_toml_and_env(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from pipeline.settings import load_settings

    cfg = Path(str(tmp_path)) / "f.toml"
    cfg.write_text('[kafka]\ngroup_id = "from-file"\nbatch_size = 7\n[model]\nname = "lexicon"\n')
    monkeypatch.setenv("FINSENTRY_KAFKA__BATCH_SIZE", "9")
    s = load_settings(cfg, store={"url": "sqlite:///x.db"})
    assert (s.kafka.group_id, s.kafka.batch_size, s.model.name) == ("from-file", 9, "lexicon")
    assert s.store.url.get_secret_value() == "sqlite:///x.db"
    with pytest.raises(ValidationError, match="frozen"):
        s.kafka.batch_size = 3  # type: ignore[misc]


def test_settings_file_is_passed_not_remembered(tmp_path: object) -> None:
    """Two loads with two files, then one without: each sees only its own file."""
    from pathlib import Path

    from pipeline.settings import load_settings

    a, b = Path(str(tmp_path)) / "a.toml", Path(str(tmp_path)) / "b.toml"
    a.write_text('[kafka]\ngroup_id = "from-a"\n')
    b.write_text('[kafka]\ngroup_id = "from-b"\n')
    assert load_settings(a).kafka.group_id == "from-a"
    assert load_settings(b).kafka.group_id == "from-b"
    assert load_settings(None).kafka.group_id == "finsentry"


def test_store_url_is_a_secret_in_reprs_and_dumps() -> None:
    from pipeline.settings import load_settings

    url = "postgresql://finsentry:s3cr3t-pass@db.example:5432/fs"
    s = load_settings(None, store={"url": url})
    assert s.store.url.get_secret_value() == url
    for shown in (repr(s), str(s), repr(s.store), s.model_dump_json()):
        assert "s3cr3t-pass" not in shown


def test_query_output_of_empty_store(db_url: str) -> None:
    out = io.StringIO()
    from pipeline.cli.core import write_frame
    from pipeline.query import series

    eng = make_engine(db_url)
    from pipeline.store import upgrade

    upgrade(eng)
    frame = series(eng, "all", datetime.now(UTC) - timedelta(hours=2), every="1h")
    eng.dispose()
    write_frame(frame, "table", out)
    assert frame["n"].sum() == 0 and len(frame) in (2, 3)
