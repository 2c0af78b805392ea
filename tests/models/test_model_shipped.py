"""The shipped default model on CPU, and the benchmark's output shape."""

from __future__ import annotations

import json

import pytest

from models.registry import DEFAULT_MODEL_DIR
from models.transformer import TransformerClassifier
from pipeline.cli import main


def test_shipped_artifact_is_small() -> None:
    size = sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir())
    assert size <= 5 * 1024 * 1024
    assert (DEFAULT_MODEL_DIR / "model_card.md").is_file()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Acme shares plunge after profit warning", "negative"),
        ("Initech beats estimates and raises full-year guidance", "positive"),
        ("Hooli shares soar after record quarterly profit", "positive"),
        ("Umbrella will hold its annual general meeting on May 3", "neutral"),
    ],
)
def test_default_model_on_obvious_sentences(
    shipped_model: TransformerClassifier, text: str, label: str
) -> None:
    (pred,) = shipped_model.classify([text])
    assert pred.label == label


@pytest.mark.slow
def test_default_model_explains_negative_news(shipped_model: TransformerClassifier) -> None:
    (pred,) = shipped_model.classify(["Acme shares plunge after profit warning"], explain=True)
    assert pred.label == "negative" and pred.explanation
    top = {w.lower() for w, _ in pred.explanation[:3]}
    assert top & {"plunge", "warning", "profit"}


@pytest.mark.slow
def test_bench_prints_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "classify", "--n", "20", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    names = [r["name"] for r in result["results"]]
    assert names[:3] == ["lexicon", "naive_pipeline", "worker"]
    assert all(r["docs_per_s"] > 0 for r in result["results"])
    assert result["n_docs"] == 20 and result["mean_tokens_per_doc"] > 0
    assert {"device", "batch_size"} <= set(result)
