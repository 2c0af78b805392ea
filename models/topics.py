"""Topic tagging: every article gets zero or more topics from a taxonomy users can edit.

Why two layers: the taxonomy file (:mod:`models.taxonomy`) is the contract people read and
extend, and keyword rules alone (:mod:`models.topic_rules`) give a cheap, explainable tagger
that works for any topic a user adds. A trained *head* (:mod:`models.topic_head`) adds what
keywords miss: a multi-label logistic regression on an encoder embedding plus the keyword hits
and a bag of words, with per-topic thresholds tuned out-of-fold (``models/tagging_eval.py``).

Which embedding (:mod:`models.topic_encoder`): by default the head reads the embedding the
sentiment model already computed for the same article (``Prediction.embedding``), so sentiment
and topics cost one forward pass (``models/artifacts/topics/sentiment-encoder/``). When the
configured classifier gives none (the lexicon, a foreign checkpoint) or a different one (a
retrained model), the frozen-MiniLM head (``models/artifacts/topics/``) runs its own pass.

How the layers combine: a topic the head knows is scored by the head; a topic only the
taxonomy knows (a user addition) is scored by its keywords; a head topic the user's taxonomy
dropped is never emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from models.config import ModelSettings, TaggingSettings
from models.taxonomy import TAXONOMY_PATH, Taxonomy, Topic, compile_rules, keyword_pattern
from models.topic_encoder import ClassifierEncoder, SentenceEncoder, TopicEncoder
from models.topic_head import ENCODER_NAME, TopicHead
from models.topic_rules import BagOfWords, KeywordRules, bag_terms, keyword_scores
from pipeline.errors import ModelError

__all__ = [
    "ARTIFACT_DIR",
    "ENCODER_NAME",
    "SHARED_DIR",
    "TAXONOMY_PATH",
    "BagOfWords",
    "ClassifierEncoder",
    "KeywordRules",
    "SentenceEncoder",
    "Taxonomy",
    "Topic",
    "TopicHead",
    "TopicTagger",
    "bag_terms",
    "compile_rules",
    "keyword_pattern",
    "keyword_scores",
]

log = logging.getLogger(__name__)

ARTIFACT_DIR = Path(__file__).parent / "artifacts" / "topics"
SHARED_DIR = ARTIFACT_DIR / "sentiment-encoder"
Mode = Literal["auto", "keywords", "head"]


def _device(spec: str) -> str:
    if spec != "auto":
        return spec
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TopicTagger:
    """Tags texts with (topic id, score) pairs, best first; a score is >= its threshold.

    Build with :meth:`load` (a head folder + taxonomy), :meth:`keywords_only`, or
    :meth:`from_settings`. ``mode="keywords"`` never loads torch; a head without an embedding
    block (the ``lexical`` one) never loads it either.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        head: TopicHead | None = None,
        encoder: TopicEncoder | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.head = head
        self._encoder = encoder
        self._rules = KeywordRules(taxonomy.topics)
        self._head_cols: dict[str, int] = {}
        self._feature_rules: KeywordRules | None = None
        self._bag: BagOfWords | None = None
        if head is not None:
            self._head_cols = {t: i for i, t in enumerate(head.topics) if t in taxonomy.ids}
            if head.feature_topics:
                self._feature_rules = KeywordRules(head.feature_topics)
            if head.vocab:
                self._bag = BagOfWords(head.vocab)
            wrong_encoder = getattr(encoder, "name", head.encoder) != head.encoder
            if head.embedding_dim and encoder is not None and wrong_encoder:
                raise ModelError(f"topic head wants encoder {head.encoder!r}")
        self.mode: str = "head" if head is not None else "keywords"

    @classmethod
    def keywords_only(cls, taxonomy: str | Path | Taxonomy | None = None) -> TopicTagger:
        tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
        return cls(tax)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        taxonomy: str | Path | Taxonomy | None = None,
        mode: Mode = "auto",
        device: str = "cpu",
        encoder: TopicEncoder | None = None,
    ) -> TopicTagger:
        """``path``: a head folder, ``"default"``/``None`` (the shipped head on the frozen
        MiniLM, a pass of its own), ``"lexical"`` (the shipped encoder-free head) or
        ``"sentiment-encoder"`` (the shipped head on the sentiment model's embedding; give it
        a :class:`ClassifierEncoder` or pass embeddings to :meth:`tag_many`). ``mode="auto"``
        falls back to keywords when the shipped folder has no head; ``"head"`` insists on one;
        ``"keywords"`` skips it."""
        tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
        if mode == "keywords":
            return cls(tax)
        shipped = path is None or str(path) in ("default", "lexical", "sentiment-encoder")
        if path is None or str(path) == "default":
            d = ARTIFACT_DIR
        elif str(path) in ("lexical", "sentiment-encoder"):
            d = ARTIFACT_DIR / str(path)
        else:
            d = Path(path)
        if not (d / "head.json").is_file():
            if mode == "head" or not shipped:
                raise ModelError(f"no topic head in {d} (expected head.json, head.safetensors)")
            log.warning("no topic head in %s: tagging topics by keywords", d)
            return cls(tax)
        head = TopicHead.load(d)
        if encoder is None and head.embedding_dim:
            encoder = SentenceEncoder(device=device, max_tokens=head.max_tokens)
        return cls(tax, head, encoder)

    @classmethod
    def from_settings(
        cls, tagging: TaggingSettings, model: ModelSettings | None = None
    ) -> TopicTagger:
        """The tagger ``tagging.topic_model`` names: ``default``, ``lexical``, ``keywords``, or
        a head folder. ``default`` reads the sentiment model's own embedding (one forward pass
        for both) when ``model`` names a classifier whose embedding the shipped
        ``sentiment-encoder`` head was trained on; otherwise (the lexicon, a foreign
        checkpoint, a retrained model) the frozen-MiniLM head with its own pass."""
        model = model or ModelSettings()
        taxonomy = tagging.taxonomy
        choice = tagging.topic_model
        if choice == "keywords":
            return cls.load(taxonomy=taxonomy, mode="keywords")
        if choice == "default":
            shared = cls._on_classifier(model, taxonomy)
            if shared is not None:
                return shared
        return cls.load(choice, taxonomy=taxonomy, device=_device(model.device))

    @classmethod
    def _on_classifier(cls, model: ModelSettings, taxonomy: Path | None) -> TopicTagger | None:
        from models.registry import embedding_name_for, load_classifier

        name = embedding_name_for(model)
        folder = SHARED_DIR
        if name is None or not (folder / "head.json").is_file():
            return None
        head = TopicHead.load(folder)
        if head.encoder != name:
            log.warning(
                "topic head %s was trained on %s, the classifier gives %s: using the frozen "
                "MiniLM head (a second forward pass); retrain with python -m models.tagging_eval "
                "--encoder classifier",
                folder,
                head.encoder,
                name,
            )
            return None
        return cls(
            Taxonomy.load(taxonomy), head, ClassifierEncoder(name, lambda: load_classifier(model))
        )

    @property
    def takes_classifier_embeddings(self) -> bool:
        """True when :meth:`tag_many` wants the sentiment pass's ``Prediction.embedding``."""
        return self.needs_embeddings and isinstance(self._encoder, ClassifierEncoder)

    @property
    def needs_embeddings(self) -> bool:
        return self.head is not None and bool(self._head_cols) and self.head.embedding_dim > 0

    def embed(self, texts: Sequence[str]) -> np.ndarray | None:
        """The encoder outputs ``tag_many`` needs, or ``None`` when it needs none."""
        if not self.needs_embeddings:
            return None
        if self._encoder is None:
            raise ModelError("this topic head needs an encoder; pass one to TopicTagger")
        return np.asarray(self._encoder.encode(list(texts)), dtype=np.float32)

    def tag(self, text: str) -> list[tuple[str, float]]:
        return self.tag_many([text])[0]

    def tag_many(
        self, texts: Sequence[str], *, embeddings: np.ndarray | None = None
    ) -> list[list[tuple[str, float]]]:
        """Topics per text. ``embeddings``: this tagger's :meth:`embed` output for ``texts``,
        when the caller already computed it; otherwise it is computed here."""
        texts = list(texts)
        if not texts:
            return []
        kw = keyword_scores(self._rules.hits(texts))
        scores = kw.copy()
        thresholds = np.full(len(self.taxonomy.topics), 0.5, dtype=np.float32)
        head = self.head
        if head is not None and self._head_cols:
            emb = embeddings if embeddings is not None else self.embed(texts)
            if emb is not None and emb.shape[0] != len(texts):
                raise ModelError("tag_many: embeddings must have one row per text")
            hits = self._feature_rules.hits(texts, cap=1) if self._feature_rules else None
            bag = self._bag.transform(texts) if self._bag else None
            probs = head.probabilities(emb, hits, bag)
            for j, tid in enumerate(self.taxonomy.ids):
                col = self._head_cols.get(tid)
                if col is None:
                    continue
                thresholds[j] = head.thresholds[col]
                if head.keywords_or:
                    # a keyword hit tags; its score is lifted to at least the threshold
                    lifted = np.where(kw[:, j] >= 0.5, np.maximum(probs[:, col], thresholds[j]), 0)
                    scores[:, j] = np.maximum(probs[:, col], lifted)
                else:
                    scores[:, j] = probs[:, col]
        for j, t in enumerate(self.taxonomy.topics):
            if t.threshold is not None:
                thresholds[j] = t.threshold
        out: list[list[tuple[str, float]]] = []
        ids = self.taxonomy.ids
        for row in scores:
            picked = [(ids[j], round(float(row[j]), 4)) for j in np.flatnonzero(row >= thresholds)]
            out.append(sorted(picked, key=lambda p: (-p[1], p[0])))
        return out
