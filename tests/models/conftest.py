"""Fixtures for the model tests: tiny data files, a tiny trained adapter, a tiny random full
checkpoint, and the shipped default model (each loaded or trained once per session).

Training and loading are the slow parts of this folder, so everything that only needs *a*
working transformer shares one adapter trained for a handful of steps; only the test of the
shipped model's answers loads the shipped model.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from models.checkpoint import base_encoder_path, load_tokenizer
from models.device import Runtime
from models.train import TrainConfig, train
from models.transformer import TransformerClassifier

ROWS = [
    ("Acme shares plunge after profit warning", "negative"),
    ("Globex misses estimates and cuts its outlook", "NEG"),
    ("Initech beats estimates and raises full-year guidance", "positive"),
    ("Hooli wins record order from a large airline", "Positive"),
    ("Umbrella to hold its annual meeting on May 3", "neutral"),
    ("Vandelay names a new head of investor relations", "neutral"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], repeat: int = 4) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "topics", "style"])
        for _ in range(repeat):
            for text, label in rows:
                w.writerow([text, label, "earnings", "wire"])
    return path


def write_phrasebank(path: Path, rows: list[tuple[str, str]], repeat: int = 4) -> Path:
    lines = [f"{text}@{label.lower()}" for _ in range(repeat) for text, label in rows]
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    return path


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "tiny.csv", ROWS)


@pytest.fixture
def tiny_phrasebank(tmp_path: Path) -> Path:
    rows = [(t.replace("Acme", "Café Acme"), lab) for t, lab in ROWS]
    return write_phrasebank(tmp_path / "Sentences_tiny.txt", rows)


def tiny_train_config(data: Path, out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": (data,),
        "out": out,
        "epochs": 1,
        "max_steps": 3,
        "batch_size": 8,
        "progress": False,
        "val_fraction": 0.2,
    }
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter trained for three steps: weights are not useful, the pipeline is."""
    root = tmp_path_factory.mktemp("adapter")
    data = write_csv(root / "train.csv", ROWS)
    train(tiny_train_config(data, root / "tiny-adapter"))
    return root / "tiny-adapter"


@pytest.fixture(scope="session")
def tiny_worker(tiny_adapter: Path) -> TransformerClassifier:
    from models.config import ModelSettings

    return TransformerClassifier.from_folder(
        tiny_adapter, ModelSettings(device="cpu", max_tokens=64), cpu_bf16=False
    )


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT classifier whose labels are in a foreign order."""
    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("ckpt") / "tiny-bert"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label={0: "positive", 1: "negative", 2: "neutral"},
        label2id={"positive": 0, "negative": 1, "neutral": 2},
    )
    BertForSequenceClassification(config).save_pretrained(str(folder), safe_serialization=True)
    load_tokenizer(base_encoder_path()).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def shipped_model() -> TransformerClassifier:
    from models.config import ModelSettings
    from models.registry import load_classifier

    clf = load_classifier(ModelSettings(device="cpu"))
    assert isinstance(clf, TransformerClassifier)
    return clf


@pytest.fixture
def fp32_cpu() -> Runtime:
    return Runtime(torch.device("cpu"), None)
