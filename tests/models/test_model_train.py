"""Training on small files the test writes (both formats), the saved folder, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.datasets import load_examples
from models.train import stratified_split, train
from models.transformer import TransformerClassifier
from pipeline.cli import main
from pipeline.errors import ConfigError
from tests.models.conftest import tiny_train_config


def test_train_phrasebank_saves_a_reloadable_small_adapter(
    tiny_phrasebank: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pb-adapter"
    result = train(tiny_train_config(tiny_phrasebank, out, fmt="phrasebank"))
    files = {p.name for p in out.iterdir()}
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "metrics.json",
        "model_card.md",
    } <= files
    assert sum(p.stat().st_size for p in out.iterdir()) < 5_000_000
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["f1"]) == {"negative", "neutral", "positive"}
    assert metrics["n"] == result.metrics["n"] > 0
    assert "macro-F1" in (out / "model_card.md").read_text()
    clf = TransformerClassifier.from_folder(out)
    assert len(clf.classify(["Café Acme shares plunge", "Meeting on May 3"])) == 2


def test_training_is_deterministic(tiny_csv: Path, tmp_path: Path) -> None:
    a = train(tiny_train_config(tiny_csv, tmp_path / "a", max_steps=2, seed=3))
    b = train(tiny_train_config(tiny_csv, tmp_path / "b", max_steps=2, seed=3))
    wa = (tmp_path / "a" / "adapter_model.safetensors").read_bytes()
    wb = (tmp_path / "b" / "adapter_model.safetensors").read_bytes()
    assert wa == wb
    assert a.history == b.history


def test_validation_split_is_stratified(tiny_csv: Path) -> None:
    examples = load_examples(tiny_csv)
    tr, val = stratified_split(examples, 0.25, seed=1)
    assert len(tr) + len(val) == len(examples)
    assert {e.label for e in val} == {"negative", "neutral", "positive"}


def test_eval_file_may_not_be_training_data(tiny_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both training and evaluation"):
        train(tiny_train_config(tiny_csv, tmp_path / "x", eval_data=tiny_csv))


def test_cli_train_then_eval(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli-adapter"
    held_out = tmp_path / "held.csv"
    held_out.write_text("text,label\nAcme plunges,negative\nAcme soars,positive\n")
    rc = main(
        [
            "train",
            "--data",
            str(tiny_csv),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--eval-data",
            str(held_out),
            "--no-progress",
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["out"] == str(out)
    rc = main(["eval", "--data", str(held_out), "--model", str(out), "--device", "cpu"])
    assert rc == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "macro_f1", "f1", "confusion_matrix", "n"} <= set(metrics)
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == 2


def test_cli_eval_bad_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--data", str(tmp_path / "none.csv"), "--model", "lexicon"]) == 2
    assert "data file not found" in capsys.readouterr().err


def test_max_minutes_stops_early_and_keeps_a_checkpoint(tiny_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "timed"
    result = train(tiny_train_config(tiny_csv, out, max_steps=None, epochs=50, max_minutes=1e-6))
    assert len(result.history) == 1  # stopped after its first step, validated once
    assert result.history[0]["epoch"] < 1
    assert (out / "adapter_model.safetensors").is_file()
