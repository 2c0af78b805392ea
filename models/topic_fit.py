"""Fitting topic heads: the methods, group folds, thresholds and the logistic regression.

Apart from ``tagging_eval.py`` (which measures and reports) because fitting is the only part
that needs torch's optimiser and the corpus's template structure; a head, once fitted, is data
(:class:`models.topic_head.TopicHead`). Everything is tuned on the training rows only:
per-topic thresholds out-of-fold over 5 *group* folds (near-duplicate rows share a fold).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from models.taxonomy import Taxonomy
from models.topic_head import ENCODER_NAME, TopicHead, l2_rows
from models.topic_rules import BagOfWords, KeywordRules, bag_terms
from pipeline.errors import ConfigError

METHODS = ("keywords", "centroid", "centroid+keywords", "emb", "emb+kw", "bow+kw", "emb+kw+bow")
LEXICAL = "bow+kw"  # the best method without the encoder, shipped as the ``lexical`` head
# L2 when not tuned: "bow" is what ``--tune-l2`` (group folds) picked for both bow methods on the
# shipped corpus, so a plain run reproduces the shipped heads; "emb" heads are not shipped.
DEFAULT_L2 = {"emb": 1e-5, "bow": 1e-6}
CENTROID_SCALE = 20.0
FOLDS = 5
SEED = 13


def label_matrix(gold: Sequence[set[str]], topic_ids: Sequence[str]) -> np.ndarray:
    col = {t: j for j, t in enumerate(topic_ids)}
    y = np.zeros((len(gold), len(topic_ids)), dtype=np.float32)
    for i, g in enumerate(gold):
        for t in g:
            if t in col:
                y[i, col[t]] = 1.0
    return y


_MASK = re.compile(r"https?://\S+|\$[A-Za-z]+|\d[\d.,]*")


def template_groups(texts: Sequence[str], min_jaccard: float = 0.5) -> list[int]:
    """Group id per text: texts whose word sets (numbers, cashtags, URLs masked) overlap by
    at least ``min_jaccard`` are linked, groups are the connected components. A stand-in for
    the corpus's template ids, which the CSV does not carry."""
    sets = [set(_MASK.sub("#", t).lower().split()) for t in texts]
    vocab = {w: i for i, w in enumerate(sorted(set().union(*sets)))}
    m = np.zeros((len(texts), max(len(vocab), 1)), dtype=np.float32)
    for i, ws in enumerate(sets):
        m[i, [vocab[w] for w in ws]] = 1.0
    size = m.sum(1)
    parent = list(range(len(texts)))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for start in range(0, len(texts), 1024):  # blocks keep memory at 1024 x n
        inter = m[start : start + 1024] @ m.T
        union = size[start : start + 1024, None] + size[None, :] - inter
        rows, cols = np.nonzero(inter >= min_jaccard * np.maximum(union, 1.0))
        for r, c in zip(rows + start, cols, strict=True):
            if c > r:
                parent[root(int(r))] = root(int(c))
    return [root(i) for i in range(len(texts))]


def _folds(groups: Sequence[int], k: int = FOLDS) -> list[np.ndarray]:
    """Group k-fold: the corpus is generated from templates and its test split holds out
    whole templates, so out-of-fold tuning must not see a row's siblings either (random
    folds leak them and reward memorising templates)."""
    keys = sorted(set(groups))
    order = np.random.default_rng(SEED).permutation(len(keys))
    fold_of = {keys[i]: n % k for n, i in enumerate(order)}
    assigned = np.array([fold_of[g] for g in groups])
    return [np.flatnonzero(assigned == f) for f in range(k)]


def _best_threshold(score: np.ndarray, y: np.ndarray, forced: np.ndarray) -> float:
    """Threshold on ``score`` that maximises F1 of ``(score >= thr) | forced``."""
    grid = np.unique(np.quantile(score, np.linspace(0.0, 1.0, 201)))
    best, best_f = float(grid[-1]) + 1e-6, -1.0
    pos = y.astype(bool)
    for thr in grid:
        yhat = (score >= thr) | forced
        tp = float((yhat & pos).sum())
        f = 2 * tp / (float(yhat.sum()) + float(pos.sum())) if tp else 0.0
        if f > best_f:
            best, best_f = float(thr), f
    return best


def _centroids(emb: np.ndarray, y: np.ndarray) -> np.ndarray:
    c = y.T @ emb / np.maximum(y.sum(0), 1.0)[:, None]
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-8)


def fit_centroid(
    emb: np.ndarray, y: np.ndarray, forced: np.ndarray, groups: Sequence[int]
) -> dict[str, Any]:
    """Centroid head: ``sigmoid(scale * (cos - thr))``, so 0.5 sits at the tuned threshold."""
    oof = np.zeros_like(y)
    for fold in _folds(groups):
        train = np.setdiff1d(np.arange(len(emb)), fold)
        oof[fold] = emb[fold] @ _centroids(emb[train], y[train]).T
    thr = np.array([_best_threshold(oof[:, j], y[:, j], forced[:, j]) for j in range(y.shape[1])])
    return {
        "weight": CENTROID_SCALE * _centroids(emb, y),
        "bias": -CENTROID_SCALE * thr,
        "thresholds": np.full(len(thr), 0.5),
        "metrics": {},
    }


def _train_logreg(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    import torch

    torch.manual_seed(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros((y.shape[1], x.shape[1]), requires_grad=True)
    b = torch.zeros(y.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w.T + b, yt)
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def fit_logreg(
    x: np.ndarray,
    y: np.ndarray,
    forced: np.ndarray,
    l2_grid: Sequence[float],
    groups: Sequence[int],
) -> dict[str, Any]:
    """Logistic head; per-topic thresholds (and the L2 strength, when ``l2_grid`` has several)
    come from out-of-fold predictions on the training rows (best micro F1)."""
    best: tuple[float, float, np.ndarray] | None = None
    for l2 in l2_grid:
        oof = np.zeros_like(y)
        for fold in _folds(groups):
            train = np.setdiff1d(np.arange(len(x)), fold)
            w, b = _train_logreg(x[train], y[train], l2)
            oof[fold] = 1.0 / (1.0 + np.exp(-np.clip(x[fold] @ w.T + b, -30, 30)))
        thr = np.array(
            [_best_threshold(oof[:, j], y[:, j], forced[:, j]) for j in range(y.shape[1])]
        )
        yhat = (oof >= thr) | forced
        tp = float((yhat & (y > 0)).sum())
        micro = 2 * tp / (float(yhat.sum()) + float(y.sum()))
        if best is None or micro > best[0]:
            best = (micro, l2, thr)
    assert best is not None
    w, b = _train_logreg(x, y, best[1])
    return {
        "weight": w,
        "bias": b,
        "thresholds": np.clip(best[2], 1e-4, 1.0),
        "metrics": {"l2": best[1], "oof_micro_f1": round(best[0], 4)},
    }


def build_vocab(texts: Sequence[str], min_df: int = 2, max_size: int = 20_000) -> list[str]:
    """Words and word pairs in at least ``min_df`` training texts, most frequent first."""
    df = Counter(t for text in texts for t in bag_terms(text))
    kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))
    return kept[:max_size]


def fit_head(
    method: str,
    texts: Sequence[str],
    gold: Sequence[set[str]],
    taxonomy: Taxonomy,
    emb: np.ndarray | None,
    l2_grid: Sequence[float] | None = None,
    encoder: str = ENCODER_NAME,
) -> TopicHead:
    """Fit one of the trained methods on training rows; its topics are the taxonomy topics
    that have training labels. ``emb``: the encoder's output for ``texts`` (methods using
    ``emb`` or ``centroid`` only)."""
    if method not in METHODS or method == "keywords":
        raise ConfigError(f"unknown trained topic method {method!r}; choose from {METHODS[1:]}")
    ids = [t for t in taxonomy.ids if any(t in g for g in gold)]
    topics = tuple(taxonomy[t] for t in ids)
    y = label_matrix(gold, ids)
    kw = KeywordRules(topics).hits(texts, cap=1) > 0
    groups = template_groups(texts)
    parts = set(method.split("+"))
    uses_emb = bool(parts & {"emb", "centroid"})
    if uses_emb and (emb is None or emb.shape[0] != len(texts)):
        raise ConfigError(f"method {method!r} needs one embedding per training text")
    if emb is not None:
        emb = l2_rows(emb)  # what TopicHead.probabilities feeds the head at run time
    vocab: list[str] = []
    if "centroid" in parts:
        assert emb is not None
        forced = kw if "keywords" in parts else np.zeros_like(kw)
        fitted = fit_centroid(emb, y, forced, groups)
    else:
        blocks = []
        if "emb" in parts:
            assert emb is not None
            blocks.append(emb.astype(np.float32))
        if "kw" in parts:
            blocks.append(kw.astype(np.float32))
        if "bow" in parts:
            vocab = build_vocab(texts)
            blocks.append(BagOfWords(vocab).transform(texts))
        x = np.concatenate(blocks, axis=1)
        grid = l2_grid or (DEFAULT_L2["bow"] if "bow" in parts else DEFAULT_L2["emb"],)
        fitted = fit_logreg(x, y, np.zeros_like(kw), grid, groups)
    return TopicHead(
        topics=tuple(ids),
        weight=np.asarray(fitted["weight"], dtype=np.float32),
        bias=np.asarray(fitted["bias"], dtype=np.float32),
        thresholds=np.asarray(fitted["thresholds"], dtype=np.float32),
        kind="centroid" if "centroid" in parts else "logreg",
        embedding_dim=int(emb.shape[1]) if uses_emb and emb is not None else 0,
        encoder=encoder,
        feature_topics=topics if "kw" in parts else (),
        vocab=tuple(vocab),
        keywords_or="keywords" in parts,
        metrics={"method": method, **fitted["metrics"]},
    )
