"""Topic tagging: the taxonomy file (shipped, extended, broken), keyword rules, the head seam
with a fake encoder, the choice of head from settings, and the per-topic evaluation on a tiny
file.

Only the tests marked slow load a transformer (the shipped heads and the sentiment model);
everything else runs in milliseconds. The shipped heads must exist: a missing artifact fails,
it is not skipped."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from models.config import ModelSettings, TaggingSettings
from models.tagging_eval import (
    evaluate_topics,
    fit_head,
    read_split,
    template_groups,
    topic_metrics,
)
from models.topics import (
    ARTIFACT_DIR,
    ENCODER_NAME,
    SHARED_DIR,
    ClassifierEncoder,
    Taxonomy,
    TopicHead,
    TopicTagger,
    keyword_pattern,
)
from pipeline.errors import ConfigError, ModelError

OBVIOUS = [
    ("Acme swung to a quarterly loss as revenue fell 8%", "earnings"),
    ("Globex cut its full-year outlook, citing weak demand", "guidance"),
    ("Morgan Stanley downgraded Initech to underweight", "analyst_rating"),
    ("Moody's cut Hooli's credit rating to junk on rising debt", "credit_debt"),
    ("Vandelay agreed to acquire a smaller rival for $2 billion", "m_and_a"),
    ("Regulators fined Umbrella $40 million after an antitrust probe", "litigation_regulation"),
    ("Stark Industries will cut 1,200 jobs as workers plan a strike", "labor"),
    ("Wayne Enterprises recalled 50,000 vehicles over a brake defect", "product_operations"),
    ("The Federal Reserve raised interest rates by 25 basis points", "macro_central_bank"),
    ("Stocks slid and Treasury yields jumped as the Nasdaq fell 2%", "markets"),
    ("Acme raised its dividend and announced a $1 billion buyback", "capital_return"),
    ("Globex's chief executive resigned; the board named a successor", "management"),
]


def write_corpus(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label", "topics", "style"])
        for text, topics in rows:
            w.writerow([text, "neutral", topics, "wire"])
    return path


@pytest.fixture(scope="module")
def keywords() -> TopicTagger:
    return TopicTagger.load(mode="keywords")


def test_shipped_taxonomy_has_the_corpus_topics() -> None:
    tax = Taxonomy.load()
    assert set(tax.ids) == {t for _, t in OBVIOUS}
    assert all(t.name and t.description and t.keywords for t in tax.topics)


@pytest.mark.parametrize(("text", "topic"), OBVIOUS)
def test_keywords_tag_obvious_sentences(keywords: TopicTagger, text: str, topic: str) -> None:
    tags = keywords.tag(text)
    assert topic in [t for t, _ in tags]
    assert all(0.5 <= s <= 1.0 for _, s in tags)


def test_keywords_leave_unrelated_text_untagged(keywords: TopicTagger) -> None:
    assert keywords.tag_many(["The weather in Lisbon was sunny.", ""]) == [[], []]
    assert keywords.tag_many([]) == []


def test_keyword_syntax() -> None:
    import re

    rx = re.compile(keyword_pattern("downgrad*"), re.I)
    assert rx.search("was Downgraded today") and not rx.search("undowngrade")
    rx = re.compile(keyword_pattern("cut * jobs"), re.I)
    assert rx.search("will cut 1,200 jobs") and rx.search("cut about 300 more jobs")
    assert not rx.search("cut jobs")
    rx = re.compile(keyword_pattern("S&P 500"), re.I)
    assert rx.search("the S&P  500 rose") and not rx.search("S&P 5000")


def test_user_taxonomy_with_new_keyword_only_topic(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'extends = "default"\n'
        'remove = ["markets"]\n'
        "[[topic]]\n"
        'id = "crypto"\n'
        'name = "Crypto"\n'
        'keywords = ["bitcoin", "stablecoin*", "crypto exchange"]\n'
        "[[topic]]\n"
        'id = "labor"\n'
        'keywords = ["unionis*"]\n'  # appended to the shipped labor keywords
        "threshold = 0.75\n",  # two hits needed
        encoding="utf-8",
    )
    tagger = TopicTagger.load(taxonomy=path)  # the shipped head, if any, keeps its topics
    tax = tagger.taxonomy
    assert "crypto" in tax.ids and "markets" not in tax.ids and "earnings" in tax.ids
    assert tax["labor"].name == "Labor" and "unionis*" in tax["labor"].keywords
    kw = TopicTagger.keywords_only(path)
    assert kw.tag("Stablecoins wobble as a crypto exchange halts withdrawals") == [("crypto", 0.75)]
    assert kw.tag("They vote on unionising") == []  # one hit, threshold 0.75
    assert kw.tag("Workers vote on unionising") == [("labor", 0.75)]
    assert kw.tag("Stocks fell") == []  # markets removed


def test_replacement_taxonomy(tmp_path: Path) -> None:
    path = tmp_path / "only.toml"
    path.write_text(
        '[[topic]]\nid = "esg"\nname = "ESG"\nkeywords = ["emissions"]\n'
        "regex = ['(?-i:\\bESG\\b)']\n",
        encoding="utf-8",
    )
    tagger = TopicTagger.keywords_only(path)
    assert tagger.taxonomy.ids == ("esg",)
    assert tagger.tag_many(["ESG funds", "esg funds", "Emissions rose"]) == [
        [("esg", 0.5)],
        [],
        [("esg", 0.5)],
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[topic]]\nid = 'Bad-Id'\nname = 'x'\nkeywords = ['a']\n", "id must match"),
        ("[[topic]]\nid = 'x'\nkeywords = ['a']\n", "name is required"),
        ("[[topic]]\nid = 'x'\nname = 'X'\n", "at least one keyword"),
        ("[[topic]]\nid = 'x'\nname = 'X'\nregex = ['(']\n", "bad regex"),
        ("[[topic]]\nid = 'x'\nname = 'X'\nkeywords = ['a']\nthreshold = 2\n", "threshold"),
        ("[[topic]]\nid = 'x'\nname = 'X'\nkeyword = ['a']\n", "unknown keys"),
        ("[[topic]]\nid='x'\nname='X'\nkeywords=['a']\n" * 2, "duplicate topic id"),
        ("extends = 'default'\nremove = ['nope']\n", "cannot remove unknown topic"),
        ("version = 1\n", "no topics"),
        ("[[topic]\n", "not valid TOML"),
    ],
)
def test_bad_taxonomies_raise_config_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Taxonomy.load(path)
    with pytest.raises(ConfigError, match="not found"):
        Taxonomy.load(tmp_path / "missing.toml")


def test_metrics_and_evaluation_on_a_tiny_file(tmp_path: Path, keywords: TopicTagger) -> None:
    rows = [(text, topic) for text, topic in OBVIOUS[:4]]
    rows += [("Acme shares were little changed", ""), ("Acme cut its outlook", "earnings")]
    path = write_corpus(tmp_path / "tiny.csv", rows)
    texts, gold = read_split(path)
    assert len(texts) == 6 and gold[4] == set()
    result = evaluate_topics(keywords, path)
    per = result["per_topic"]
    assert per["guidance"]["recall"] == 1.0 and per["guidance"]["precision"] == 0.5
    assert per["earnings"]["support"] == 2 and per["earnings"]["recall"] == 0.5
    assert per["markets"]["support"] == 0
    assert 0.0 < result["micro"]["f1"] < 1.0 and result["n_docs"] == 6
    # 4 of the 5 gold topics found (one of the two earnings rows is missed)
    assert result["micro"]["recall"] == pytest.approx(4 / 5)

    m = topic_metrics([{"a"}, {"a", "b"}, set()], [{"a"}, {"b"}, {"b"}], ["a", "b"])
    assert m["per_topic"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1}
    )
    assert m["micro"]["precision"] == pytest.approx(2 / 3)
    assert m["macro"]["f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert m["exact_match"] == pytest.approx(1 / 3)

    with pytest.raises(ConfigError, match="needs columns"):
        read_split(write_bad(tmp_path / "bad.csv"))


def write_bad(path: Path) -> Path:
    path.write_text("title,label\nx,neutral\n", encoding="utf-8")
    return path


def test_template_groups_link_siblings() -> None:
    groups = template_groups(
        [
            "Acme cuts 1,200 jobs at its Ohio plant",
            "Globex cuts 300 jobs at its Texas plant",
            "$ACME upgraded to buy at Big Bank https://t.co/x",
            "$GBX upgraded to buy at Big Bank https://t.co/y",
            "Central bank holds rates",
        ]
    )
    assert groups[0] == groups[1] and groups[2] == groups[3]
    assert len(set(groups)) == 3


class FakeEncoder:
    """Hashes words into a small vector: enough for a head to separate two topics."""

    name = ENCODER_NAME
    dim = 16

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, sum(map(ord, w)) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)


@pytest.mark.parametrize("method", ["centroid+keywords", "emb", "bow+kw", "emb+kw+bow"])
def test_head_roundtrip_with_fake_encoder(tmp_path: Path, method: str) -> None:
    texts = ["tariffs zorble rates", "zorble rates climb", "dividend payout flarp", "flarp payout"]
    texts = texts * 6
    gold = [{"macro_central_bank"}, {"macro_central_bank"}, {"capital_return"}, {"capital_return"}]
    gold = gold * 6
    tax = Taxonomy.load()
    enc = FakeEncoder()
    head = fit_head(method, texts, gold, tax, enc.encode(texts))
    assert head.topics == ("macro_central_bank", "capital_return")
    head.save(tmp_path)
    loaded = TopicHead.load(tmp_path)
    assert loaded.topics == head.topics and loaded.kind == head.kind
    np.testing.assert_allclose(loaded.weight, head.weight)

    tagger = TopicTagger.load(tmp_path, mode="head", encoder=enc)
    assert tagger.mode == "head"
    probe = ["zorble rates", "flarp payout"]
    emb = tagger.embed(probe)
    if method == "bow+kw":  # the lexical head never touches the encoder
        assert not tagger.needs_embeddings and emb is None
        assert TopicTagger.load(tmp_path).embed(probe) is None
    else:
        assert tagger.needs_embeddings and emb is not None
    calls = enc.calls
    tags = tagger.tag_many(probe, embeddings=emb)
    assert enc.calls == calls  # reused, not re-encoded
    assert tags[0][0][0] == "macro_central_bank" and tags[1][0][0] == "capital_return"
    # topics the head does not know still come from keywords
    assert "labor" in [t for t, _ in tagger.tag("Workers went on strike")]
    if emb is not None:
        with pytest.raises(ModelError, match="one row per text"):
            tagger.tag_many(probe, embeddings=emb[:1])


def test_missing_head_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no topic head"):
        TopicTagger.load(tmp_path, mode="head")
    (tmp_path / "head.json").write_text("{", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot load topic head"):
        TopicTagger.load(tmp_path, encoder=FakeEncoder())


def test_from_settings_keywords_mode() -> None:
    tagger = TopicTagger.from_settings(TaggingSettings(topic_model="keywords"))
    assert tagger.mode == "keywords" and not tagger.needs_embeddings
    assert tagger.embed(["x"]) is None


def test_shipped_heads_are_present_and_consistent() -> None:
    """Both shipped heads load (a deleted artifact fails here); the one-pass head names the
    shipped sentiment model's embedding space, so from_settings picks it for that model."""
    from models.registry import embedding_name_for

    minilm = TopicHead.load(ARTIFACT_DIR)
    shared = TopicHead.load(SHARED_DIR)
    assert minilm.encoder == ENCODER_NAME and minilm.embedding_dim == 384
    assert shared.encoder == embedding_name_for(ModelSettings(name="default"))
    assert shared.topics == minilm.topics and shared.embedding_dim == 384
    assert not TopicHead.load(ARTIFACT_DIR / "lexical").embedding_dim


def test_from_settings_chooses_the_head_by_classifier() -> None:
    """The default model gives embeddings: the one-pass head, which loads nothing until asked
    to encode. The lexicon gives none: the frozen-MiniLM head with its own encoder."""
    shared = TopicTagger.from_settings(TaggingSettings(), ModelSettings(device="cpu"))
    assert shared.takes_classifier_embeddings and shared.head is not None
    assert shared.head.encoder.endswith("/layer4/mean/l2")
    assert isinstance(shared._encoder, ClassifierEncoder) and shared._encoder._classifier is None


def test_a_head_for_another_model_is_not_fed_its_embeddings(tmp_path: Path) -> None:
    """A shipped one-pass head whose encoder name does not match the configured model (a
    retrained model) must not be chosen: its features would be another space."""
    head = TopicHead.load(SHARED_DIR)
    assert TopicTagger._on_classifier(ModelSettings(name="lexicon"), None) is None
    other = tmp_path / "other"
    other.mkdir()
    for f in SHARED_DIR.parent.parent.joinpath("sentiment-minilm-lora").iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    (other / "adapter_model.safetensors").write_bytes(
        (other / "adapter_model.safetensors").read_bytes() + b" "
    )  # other weights, other version
    assert TopicTagger._on_classifier(ModelSettings(name=str(other)), None) is None
    assert head.encoder.startswith("sentiment-minilm-lora@")


@pytest.mark.slow
def test_shipped_head_tags_obvious_sentences() -> None:
    tagger = TopicTagger.load(mode="head")
    assert tagger.mode == "head" and tagger.head is not None
    assert tagger.head.encoder == ENCODER_NAME
    tags = tagger.tag_many([t for t, _ in OBVIOUS])
    hits = sum(topic in [t for t, _ in row] for row, (_, topic) in zip(tags, OBVIOUS, strict=True))
    assert hits >= len(OBVIOUS) - 1
    # the corpus has no off-topic rows (see the model card): at most one weak topic
    off_topic = tagger.tag("The weather in Lisbon was sunny.")
    assert len(off_topic) <= 1 and all(s < 0.6 for _, s in off_topic)
    lexical = TopicTagger.load("lexical", mode="head")
    assert not lexical.needs_embeddings
    assert "management" in [t for t, _ in lexical.tag("Acme said its CFO will step down")]


@pytest.mark.slow
def test_one_pass_head_tags_from_the_sentiment_embeddings() -> None:
    """The shipped sentiment model's embeddings, handed over from its own predictions, tag the
    obvious sentences; the tagger never runs an encoder of its own."""
    from models.registry import load_classifier

    model = ModelSettings(device="cpu")
    tagger = TopicTagger.from_settings(TaggingSettings(), model)
    clf = load_classifier(model)
    texts = [t for t, _ in OBVIOUS]
    preds = clf.classify(texts)
    assert all(p.embedding is not None and p.embedding.shape == (384,) for p in preds)
    emb = np.stack([p.embedding for p in preds if p.embedding is not None])
    tags = tagger.tag_many(texts, embeddings=emb)
    assert isinstance(tagger._encoder, ClassifierEncoder) and tagger._encoder._classifier is None
    hits = sum(topic in [t for t, _ in row] for row, (_, topic) in zip(tags, OBVIOUS, strict=True))
    assert hits >= len(OBVIOUS) - 1
    # the fallback encoder (a caller without embeddings) gives the same answers: the same
    # topics, and scores equal up to float noise (a batch of 3 vs of all sums in another order,
    # which can move a score across a rounding edge: 0.9939 vs 0.994)
    fallback = tagger.tag_many(texts[:3])
    for got, want in zip(fallback, tags[:3], strict=True):
        assert [t for t, _ in got] == [t for t, _ in want]
        assert all(abs(a - b) <= 1e-3 for (_, a), (_, b) in zip(got, want, strict=True))
