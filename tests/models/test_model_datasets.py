"""Loading user data: CSV and Financial PhraseBank, label spellings, bad rows with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.datasets import load_examples, load_many
from pipeline.errors import ConfigError


def test_csv_ignores_extra_columns_and_normalises_labels(tiny_csv: Path) -> None:
    examples = load_examples(tiny_csv)
    assert len(examples) == 24
    assert {e.label for e in examples} == {"negative", "neutral", "positive"}
    assert examples[1].label == "negative"  # "NEG"
    assert examples[3].label == "positive"  # "Positive"


def test_phrasebank_is_latin1_and_splits_on_last_at(tmp_path: Path) -> None:
    path = tmp_path / "Sentences_50Agree.txt"
    path.write_bytes(
        "Café sales rose 5 % , said info@acme.fi .@positive\nOk.@neutral\n".encode("latin-1")
    )
    examples = load_examples(path)  # .txt → phrasebank
    assert examples[0].text == "Café sales rose 5 % , said info@acme.fi ."
    assert [e.label for e in examples] == ["positive", "neutral"]


def test_bad_label_reports_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfine,positive\nodd,joyful\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.csv:3: unknown label 'joyful'"):
        load_examples(path)


def test_phrasebank_line_without_label(tmp_path: Path) -> None:
    path = tmp_path / "pb.txt"
    path.write_bytes(b"good@positive\nno label here\n")
    with pytest.raises(ConfigError, match=r"pb\.txt:2: expected 'sentence@label'"):
        load_examples(path, "phrasebank")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence,label\nx,positive\n", "needs a header with 'text' and 'label'"),
        ("text,label\n  ,positive\n", r":2: empty text"),
        ("text,label\nonly-text\n", r":2: row has too few columns"),
    ],
)
def test_malformed_csv(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_examples(path)


def test_missing_file_and_many(tmp_path: Path, tiny_csv: Path) -> None:
    with pytest.raises(ConfigError, match="data file not found"):
        load_examples(tmp_path / "nope.csv")
    assert len(load_many([tiny_csv, tiny_csv])) == 48
