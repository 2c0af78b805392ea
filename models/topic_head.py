"""The trained topic head: a linear multi-label layer over feature blocks, saved as safetensors +
JSON (no pickle), applied with numpy.

The head records which encoder its embedding block came from (``encoder``): the frozen MiniLM
(``all-MiniLM-L6-v2/mean/l2``, a separate forward pass) or the shipped sentiment model's own
pooled output (``<model version>/mean/l2``, free: it comes out of the sentiment pass). Rows are
L2-normalised before the product either way, so a caller may pass raw pooled vectors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.taxonomy import Topic
from pipeline.errors import ModelError

ENCODER_NAME = "all-MiniLM-L6-v2/mean/l2"


def l2_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero); idempotent."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class TopicHead:
    """Linear multi-label head: ``sigmoid(features @ W.T + b) >= thresholds`` per topic.

    Features are up to three blocks, in this order: the encoder embedding (``embedding_dim``
    columns; 0 = the head needs no encoder), the hit indicators of ``feature_topics``' keyword
    rules, and a bag of words over ``vocab``. The keyword rules and the vocabulary are stored
    with the head, so a user's edited taxonomy cannot shift its features. ``kind`` records how
    it was fitted (``logreg`` or ``centroid``); ``keywords_or``: a taxonomy keyword hit also
    tags.
    """

    topics: tuple[str, ...]
    weight: np.ndarray  # (T, D + F + V)
    bias: np.ndarray  # (T,)
    thresholds: np.ndarray  # (T,)
    kind: str = "logreg"
    embedding_dim: int = 384
    encoder: str = ENCODER_NAME
    max_tokens: int = 128
    feature_topics: tuple[Topic, ...] = ()
    vocab: tuple[str, ...] = ()
    keywords_or: bool = False
    metrics: Mapping[str, Any] | None = None

    @property
    def n_features(self) -> int:
        return self.embedding_dim + len(self.feature_topics) + len(self.vocab)

    def save(self, directory: str | Path) -> None:
        from safetensors.numpy import save_file

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tensors = {
            "weight": np.ascontiguousarray(self.weight, dtype=np.float32),
            "bias": np.ascontiguousarray(self.bias, dtype=np.float32),
            "thresholds": np.ascontiguousarray(self.thresholds, dtype=np.float32),
        }
        save_file(tensors, str(d / "head.safetensors"))
        meta = {
            "topics": list(self.topics),
            "kind": self.kind,
            "embedding_dim": self.embedding_dim,
            "encoder": self.encoder,
            "max_tokens": self.max_tokens,
            "keywords_or": self.keywords_or,
            "metrics": dict(self.metrics or {}),
            "feature_topics": [
                {"id": t.id, "keywords": list(t.keywords), "regex": list(t.regex)}
                for t in self.feature_topics
            ],
            "vocab": list(self.vocab),
        }
        text = json.dumps(meta, indent=1, ensure_ascii=False)
        (d / "head.json").write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> TopicHead:
        from safetensors.numpy import load_file

        d = Path(directory)
        try:
            meta = json.loads((d / "head.json").read_text(encoding="utf-8"))
            tensors = load_file(str(d / "head.safetensors"))
            feats = tuple(
                Topic(f["id"], f["id"], "", tuple(f["keywords"]), tuple(f["regex"]))
                for f in meta.get("feature_topics", [])
            )
            head = cls(
                topics=tuple(meta["topics"]),
                weight=tensors["weight"],
                bias=tensors["bias"],
                thresholds=tensors["thresholds"],
                kind=meta.get("kind", "logreg"),
                embedding_dim=int(meta.get("embedding_dim", 384)),
                encoder=meta.get("encoder", ENCODER_NAME),
                max_tokens=int(meta.get("max_tokens", 128)),
                feature_topics=feats,
                vocab=tuple(meta.get("vocab", ())),
                keywords_or=bool(meta.get("keywords_or", False)),
                metrics=meta.get("metrics"),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"cannot load topic head from {d}: {exc}") from exc
        n = len(head.topics)
        if head.weight.shape != (n, head.n_features) or head.bias.shape != (n,):
            raise ModelError(f"topic head in {d}: weight/bias shapes do not match its features")
        return head

    def probabilities(
        self,
        embeddings: np.ndarray | None,
        feature_hits: np.ndarray | None = None,
        bag: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per-topic probabilities from the feature blocks this head uses: ``embeddings`` from
        the encoder, ``feature_hits`` from ``KeywordRules(self.feature_topics)``, ``bag`` from
        ``BagOfWords(self.vocab)``."""
        blocks: list[np.ndarray] = []
        for name, block, width in (
            ("embeddings", embeddings, self.embedding_dim),
            ("keyword hits", feature_hits, len(self.feature_topics)),
            ("bag of words", bag, len(self.vocab)),
        ):
            if not width:
                continue
            if block is None or block.ndim != 2 or block.shape[1] != width:
                raise ModelError(f"topic head needs {name} with {width} columns")
            if name == "embeddings":
                block = l2_rows(block)
            if name == "keyword hits":
                block = block > 0
            blocks.append(block.astype(np.float32, copy=False))
        feats = np.concatenate(blocks, axis=1)
        logits = feats @ self.weight.T + self.bias
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)
