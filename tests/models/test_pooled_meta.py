"""The pooled model's metadata names the layer it hands out as its embedding; a bad value is
refused on load, and the forward pass returns that layer's mean over the real tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertModel

from models.pooled import META_FILE, ModelMeta, PooledClassifier, embedding_name


def tiny_encoder() -> BertModel:
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=16,
    )
    return BertModel(cfg, add_pooling_layer=False).eval()


def test_meta_roundtrip_and_refusals(tmp_path: Path) -> None:
    ModelMeta(embedding_layer=2).save(tmp_path)
    assert json.loads((tmp_path / META_FILE).read_text())["embedding_layer"] == 2
    assert ModelMeta.load(tmp_path).embedding_layer == 2
    ModelMeta().save(tmp_path)
    assert "embedding_layer" not in json.loads((tmp_path / META_FILE).read_text())
    assert ModelMeta.load(tmp_path).embedding_layer is None
    (tmp_path / META_FILE).write_text('{"embedding_layer": true}')
    with pytest.raises(ValueError, match="embedding_layer"):
        ModelMeta.load(tmp_path)
    with pytest.raises(ValueError, match=r"0\.\.3"):
        PooledClassifier(tiny_encoder(), embedding_layer=4)
    assert embedding_name("m@1", None) == "m@1/layerlast/mean/l2"
    assert embedding_name("m@1", 4) == "m@1/layer4/mean/l2"


def test_embedding_is_the_masked_mean_of_its_layer() -> None:
    enc = tiny_encoder()
    ids = torch.tensor([[2, 7, 9, 3, 0, 0], [2, 5, 3, 0, 0, 0]])
    mask = (ids > 0).long()
    with torch.no_grad():
        hidden = enc(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        for layer in (None, 1):
            model = PooledClassifier(enc, embedding_layer=layer).eval()
            out = model(input_ids=ids, attention_mask=mask)
            h = hidden[-1 if layer is None else layer]
            for row in range(2):
                n = int(mask[row].sum())
                expected = h[row, :n].mean(0)
                assert out.embedding is not None
                torch.testing.assert_close(out.embedding[row], expected, atol=1e-5, rtol=1e-5)
            # padding does not move it: the same text alone, unpadded
            alone = model(input_ids=ids[1:, :3], attention_mask=mask[1:, :3])
            assert alone.embedding is not None
            torch.testing.assert_close(alone.embedding[0], out.embedding[1], atol=1e-5, rtol=1e-5)
