"""Loading local folders: a full checkpoint with foreign label order, adapters, bad folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from models.checkpoint import BASE_ENCODER, load_checkpoint
from models.config import ModelSettings
from models.registry import load_classifier
from models.transformer import TransformerClassifier
from pipeline.errors import ModelError


def test_full_checkpoint_maps_labels_from_its_config(random_checkpoint: Path) -> None:
    clf = load_classifier(ModelSettings(name=str(random_checkpoint), device="cpu"))
    assert isinstance(clf, TransformerClassifier)
    assert clf.loaded.label_order == [1, 2, 0]  # negative, neutral, positive
    assert clf.version.startswith("tiny-bert@")
    texts = ["Acme shares plunge after profit warning", "Results due on Monday"]
    preds = clf.classify(texts)
    enc = clf.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        probs = torch.softmax(clf.model(**enc).logits.float(), -1)
    for pred, p in zip(preds, probs, strict=True):
        # checkpoint column 0 is "positive", 1 "negative", 2 "neutral"
        assert pred.p_positive == pytest.approx(float(p[0]), abs=2e-2)
        assert pred.p_negative == pytest.approx(float(p[1]), abs=2e-2)
        assert pred.p_neutral == pytest.approx(float(p[2]), abs=2e-2)


def test_unmappable_checkpoint_is_a_model_error(random_checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "emotions"
    shutil.copytree(random_checkpoint, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["id2label"] = {"0": "joy", "1": "anger", "2": "neutral"}
    cfg["label2id"] = {"joy": 0, "anger": 1, "neutral": 2}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=r"cannot map checkpoint label\(s\) \['joy', 'anger'\]"):
        load_checkpoint(folder)


def test_adapter_names_packaged_base_and_reloads(tiny_adapter: Path) -> None:
    cfg = json.loads((tiny_adapter / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == BASE_ENCODER
    assert (tiny_adapter / "adapter_model.safetensors").is_file()
    loaded = load_checkpoint(tiny_adapter)
    assert loaded.label_order == [0, 1, 2]
    # merged: a plain transformers model, no peft wrappers left
    assert not any("lora" in name for name, _ in loaded.model.named_parameters())


def test_adapter_with_unknown_base_fails_without_downloading(
    tiny_adapter: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "adapter"
    shutil.copytree(tiny_adapter, folder)
    cfg_path = folder / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = "someone/finbert-on-the-hub"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="not a local folder"):
        load_checkpoint(folder)


def test_bad_model_names(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model"):
        load_classifier(ModelSettings(name=str(tmp_path / "missing")))
    with pytest.raises(ModelError, match=r"neither adapter_config\.json nor config\.json"):
        load_checkpoint(tmp_path)
