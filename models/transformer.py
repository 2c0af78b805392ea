"""The batched transformer worker: any 3-class sequence classifier behind ``Classifier``.

Inference runs in three steps, like ``transformers`` pipelines but batched for throughput:

1. :meth:`TransformerClassifier.preprocess` — clip and tokenize every text, then group the
   documents into batches by a padded-token budget with length bucketing
   (:mod:`models.batching`);
2. :meth:`TransformerClassifier._forward` — each batch under ``torch.inference_mode`` with the
   device's autocast (:mod:`models.device`); with ``explain=True`` a gradient pass instead
   (:mod:`models.explain`);
3. :meth:`TransformerClassifier.postprocess` — softmax in fp32, columns reordered from the
   checkpoint's ``id2label`` to (negative, neutral, positive), predictions put back in input
   order.

**Truncation policy.** The caller passes one text per document, title first then the body's
lead (``"<title>. <lead>"``). Headlines carry most of the sentiment and the opening paragraph
most of the rest, so the worker keeps the *head* of the text: the first ``max_tokens`` wordpieces
including ``[CLS]``/``[SEP]``; everything after is ignored. Before tokenizing, whitespace runs are
collapsed and the text is cut to ``10 × max_tokens`` characters — English wordpieces average
about 4 characters — so a megabyte-long article costs no more to tokenize than a short one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.base import Prediction
from models.batching import pad_group, plan_batches
from models.checkpoint import LoadedModel, load_checkpoint
from models.config import ModelSettings
from models.device import Runtime, make_runtime, move_to
from models.explain import gradient_x_input, merge_words
from models.pooled import PooledClassifier, embedding_name
from pipeline.errors import ModelError

log = logging.getLogger(__name__)

CHARS_PER_TOKEN_CAP = 10


def clip_text(text: str, max_tokens: int) -> str:
    """Collapse whitespace and keep a prefix long enough for ``max_tokens`` wordpieces."""
    limit = max_tokens * CHARS_PER_TOKEN_CAP
    # Look at a generous raw prefix only: collapsing whitespace can only shorten it.
    return " ".join(text[: limit * 4].split())[:limit]


@dataclass
class Batch:
    """Padded tensors for a group of documents plus where they came from."""

    indices: list[int]  # positions in the caller's list
    inputs: dict[str, torch.Tensor]
    texts: list[str]  # the clipped texts the tokens came from
    offsets: list[list[tuple[int, int]]] | None = None  # per doc, for explanations


@dataclass
class Prepared:
    """What :meth:`TransformerClassifier.preprocess` hands to the forward pass."""

    batches: list[Batch]
    n_docs: int


@dataclass
class Forward:
    """One batch's forward pass: logits, and the attributions or the pooled embeddings."""

    logits: torch.Tensor
    attributions: torch.Tensor | None
    embedding: np.ndarray | None  # [B, hidden] float32, when the model pools


class TransformerClassifier:
    """Sentiment from a fine-tuned encoder; see the module docstring for the pipeline."""

    name = "transformer"

    def __init__(
        self,
        loaded: LoadedModel,
        runtime: Runtime,
        *,
        max_tokens: int = 128,
        batch_tokens: int = 8192,
        max_batch_docs: int = 64,
        explain_top_k: int = 8,
    ) -> None:
        self.loaded = loaded
        self.runtime = runtime
        self.model = loaded.model
        move_to(self.model, runtime.device)
        self.model.eval()
        self.tokenizer = loaded.tokenizer
        self.version = loaded.version
        self.max_tokens = min(max_tokens, self._model_max_tokens())
        self.batch_tokens = batch_tokens
        self.max_batch_docs = max_batch_docs
        self.explain_top_k = explain_top_k
        self._order = torch.tensor(loaded.label_order, device=runtime.device)

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        settings: ModelSettings | None = None,
        *,
        cpu_bf16: bool | None = None,
    ) -> TransformerClassifier:
        settings = settings or ModelSettings()
        runtime = make_runtime(
            settings.device, torch_threads=settings.torch_threads, cpu_bf16=cpu_bf16
        )
        loaded = load_checkpoint(folder)
        log.info("loaded %s on %s", loaded.version, runtime.description)
        return cls(
            loaded,
            runtime,
            max_tokens=settings.max_tokens,
            batch_tokens=settings.batch_tokens,
            max_batch_docs=settings.max_batch_docs,
        )

    @property
    def embedding_name(self) -> str | None:
        """Names the space of :attr:`Prediction.embedding` (``None``: this model gives none), so
        a topic head trained on it can tell its features apart from another model's."""
        if not isinstance(self.model, PooledClassifier):
            return None
        return embedding_name(self.version, self.model.embedding_layer)

    def _model_max_tokens(self) -> int:
        limit = getattr(self.model.config, "max_position_embeddings", 512) or 512
        return int(limit)

    # -- step 1 ---------------------------------------------------------------------------
    def preprocess(self, texts: Sequence[str], *, with_offsets: bool = False) -> Prepared:
        """Tokenize and batch ``texts`` on the CPU. Needs no model state, so a caller may run
        it ahead of time (e.g. while the previous batch is in the forward pass) and hand the
        result to :meth:`classify_prepared`."""
        clipped = [clip_text(t, self.max_tokens) for t in texts]
        if not clipped:
            return Prepared([], 0)
        enc = self.tokenizer(
            clipped,
            truncation=True,
            max_length=self.max_tokens,
            return_offsets_mapping=with_offsets,
            return_attention_mask=False,
        )
        ids: list[list[int]] = enc["input_ids"]
        has_types = "token_type_ids" in enc
        pad_id = self.tokenizer.pad_token_id or 0
        pin = self.runtime.device.type == "cuda"  # page-locked: the copy overlaps compute
        batches = []
        for group in plan_batches([len(x) for x in ids], self.batch_tokens, self.max_batch_docs):
            input_ids, mask = pad_group(ids, group, pad_id)
            inputs = {"input_ids": input_ids, "attention_mask": mask}
            if has_types:
                inputs["token_type_ids"] = torch.zeros_like(input_ids)
            if pin:
                inputs = {k: v.pin_memory() for k, v in inputs.items()}
            offsets = [list(enc["offset_mapping"][i]) for i in group] if with_offsets else None
            batches.append(Batch(group, inputs, [clipped[i] for i in group], offsets))
        return Prepared(batches, len(clipped))

    # -- step 2 ---------------------------------------------------------------------------
    def _forward(self, batch: Batch, *, explain: bool = False) -> Forward:
        dev = self.runtime.device
        inputs = {k: v.to(dev, non_blocking=True) for k, v in batch.inputs.items()}
        if explain:
            logits, attributions = gradient_x_input(self.model, inputs)
            return Forward(logits, attributions, None)
        with torch.inference_mode(), self.runtime.autocast():
            out = self.model(**inputs)
        vec = getattr(out, "embedding", None)  # only the pooled classifier exposes one
        embedding = vec.float().cpu().numpy() if vec is not None else None
        return Forward(out.logits.float(), None, embedding)

    # -- step 3 ---------------------------------------------------------------------------
    def postprocess(self, logits: torch.Tensor) -> list[tuple[float, float, float]]:
        probs = torch.softmax(logits.float(), dim=-1).index_select(1, self._order).cpu()
        return [(float(p[0]), float(p[1]), float(p[2])) for p in probs.tolist()]

    def classify(self, texts: Sequence[str], *, explain: bool = False) -> list[Prediction]:
        return self.classify_prepared(self.preprocess(texts, with_offsets=explain), explain=explain)

    def classify_prepared(self, prepared: Prepared, *, explain: bool = False) -> list[Prediction]:
        """Steps 2 and 3 for the output of :meth:`preprocess`. Without ``explain`` each
        prediction carries the pooled embedding of the same pass (when the model pools)."""
        out: list[Prediction | None] = [None] * prepared.n_docs
        try:
            for batch in prepared.batches:
                if explain and batch.offsets is None:
                    raise ModelError("explain=True needs preprocess(..., with_offsets=True)")
                fwd = self._forward(batch, explain=explain)
                for row, (i, probs) in enumerate(
                    zip(batch.indices, self.postprocess(fwd.logits), strict=True)
                ):
                    expl = None
                    if explain and batch.offsets is not None and fwd.attributions is not None:
                        scores = fwd.attributions[row, : len(batch.offsets[row])].cpu().tolist()
                        expl = merge_words(
                            batch.texts[row], batch.offsets[row], scores, self.explain_top_k
                        )
                    emb = fwd.embedding[row] if fwd.embedding is not None else None
                    out[i] = Prediction.from_probs(*probs, explanation=expl, embedding=emb)
        except RuntimeError as exc:  # CUDA OOM, shape errors from a foreign checkpoint
            raise ModelError(f"inference failed with {self.version}: {exc}") from exc
        return [p for p in out if p is not None]
