"""Where a topic head's embedding block comes from.

Two sources, one protocol (:class:`TopicEncoder`: a ``name`` and ``encode(texts)``):

* :class:`ClassifierEncoder` — the sentiment model's own embedding
  (:attr:`models.base.Prediction.embedding`, the mean-pooled output of one of its layers). The
  daemon never calls ``encode``: the consumer loop hands the embeddings of the sentiment pass to
  the tagger, so sentiment and topics cost one forward pass. ``encode`` exists for callers that
  tag without classifying first (evaluation, a one-off script); it loads the classifier on first
  use.
* :class:`SentenceEncoder` — the frozen all-MiniLM-L6-v2, mean-pooled and L2-normalised: the
  fallback when the configured classifier gives no embedding (the lexicon baseline, a foreign
  Hugging Face checkpoint). It is a second forward pass per article, so it is only used then.
  Tokens are batched by :mod:`models.batching` and placed by :mod:`models.device`, like the
  sentiment worker's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.batching import pad_group, plan_batches
from models.topic_head import ENCODER_NAME
from pipeline.errors import ModelError


class TopicEncoder(Protocol):
    """Embeds texts for a topic head; ``name`` must equal the head's ``encoder``."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class ClassifierEncoder:
    """Embeddings from a sentiment classifier that fills ``Prediction.embedding``.

    ``load`` builds the classifier (called once, on the first ``encode``); ``name`` is the
    embedding space the classifier is expected to produce, checked on that first call.
    """

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self._load = load
        self._classifier: Any | None = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._classifier is None:
                clf = self._load()
                got = getattr(clf, "embedding_name", None)
                if got != self.name:
                    raise ModelError(f"classifier gives embeddings {got!r}, expected {self.name!r}")
                self._classifier = clf
            return self._classifier

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        preds = self._get().classify(list(texts))
        if not preds:
            return np.zeros((0, 0), dtype=np.float32)
        if any(p.embedding is None for p in preds):
            raise ModelError(f"classifier {self.name!r} returned no embedding")
        return np.stack([p.embedding for p in preds]).astype(np.float32, copy=False)


class SentenceEncoder:
    """Frozen all-MiniLM-L6-v2, mean-pooled over real tokens, L2-normalised (local files only)."""

    name = ENCODER_NAME

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        device: str = "cpu",
        max_tokens: int = 128,
        batch_tokens: int = 8192,
        max_batch_docs: int = 64,
    ) -> None:
        from models.checkpoint import base_encoder_path, load_base_encoder, load_tokenizer
        from models.device import make_runtime, move_to

        folder = Path(path) if path is not None else base_encoder_path()
        model = load_base_encoder(folder)
        self._tok = load_tokenizer(folder)
        # fp32 on the CPU: the shipped head was fitted on fp32 embeddings; bf16 on CUDA
        self._runtime = make_runtime(device, cpu_bf16=False)
        move_to(model, self._runtime.device)
        self._model = model.eval()
        self.max_tokens = max_tokens
        self.batch_tokens = batch_tokens
        self.max_batch_docs = max_batch_docs
        self.dim = int(model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from models.transformer import clip_text

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        clipped = [clip_text(t, self.max_tokens) for t in texts]
        enc = self._tok(clipped, truncation=True, max_length=self.max_tokens)
        ids: list[list[int]] = enc["input_ids"]
        pad_id = self._tok.pad_token_id or 0
        dev = self._runtime.device
        with torch.inference_mode(), self._runtime.autocast():
            for group in plan_batches(
                [len(x) for x in ids], self.batch_tokens, self.max_batch_docs
            ):
                input_ids, mask = pad_group(ids, group, pad_id)
                hidden = self._model(
                    input_ids=input_ids.to(dev, non_blocking=True),
                    attention_mask=mask.to(dev, non_blocking=True),
                ).last_hidden_state.float()
                m = mask.to(dev).unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[group] = pooled.cpu().numpy()
        return out
