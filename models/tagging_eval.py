"""Measure topic taggers, pick one, train the shipped head and write its model card.

Why here and not in ``topics.py``: fitting needs the corpus and a few seconds of numpy/torch;
the daemon only needs to *apply* a head, so ``topics.py`` stays the runtime and this module is
the lab bench. Everything is tuned on the training split only (thresholds out-of-fold, 5 folds);
``test.csv`` is touched once per method for the reported numbers.

Methods compared (``compare_methods``):

* ``keywords`` — taxonomy rules; a topic is tagged on any keyword/regex hit.
* ``centroid`` / ``centroid+keywords`` — cosine similarity of the MiniLM embedding to each
  topic's mean training embedding, per-topic threshold; optionally OR a keyword hit.
* ``logreg`` / ``logreg+kwfeat`` / ``logreg+kwfeat+or`` — multi-label logistic regression on
  the frozen embedding (optionally with the keyword hit indicators as extra features; optionally
  OR a keyword hit), per-topic probability thresholds.

CLI: ``python -m models.tagging_eval --train models/data/train.csv --test models/data/test.csv
[--out models/artifacts/topics] [--method best|<name>]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.topics import (
    ARTIFACT_DIR,
    KeywordRules,
    SentenceEncoder,
    Taxonomy,
    TopicHead,
    TopicTagger,
)
from pipeline.errors import ConfigError

METHODS = (
    "keywords",
    "centroid",
    "centroid+keywords",
    "logreg",
    "logreg+kwfeat",
    "logreg+kwfeat+or",
)
CENTROID_SCALE = 20.0
FOLDS = 5
SEED = 13


def read_split(path: str | Path) -> tuple[list[str], list[set[str]]]:
    """Texts and gold topic sets from a corpus CSV (columns ``text`` and ``topics``,
    ``;``-separated ids, empty = no topic)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"corpus file not found: {p}")
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"text", "topics"} <= set(reader.fieldnames):
            raise ConfigError(f"{p}: needs columns 'text' and 'topics'")
        texts, gold = [], []
        for row in reader:
            texts.append(row["text"] or "")
            gold.append({t.strip() for t in (row["topics"] or "").split(";") if t.strip()})
    return texts, gold


def label_matrix(gold: Sequence[set[str]], topic_ids: Sequence[str]) -> np.ndarray:
    col = {t: j for j, t in enumerate(topic_ids)}
    y = np.zeros((len(gold), len(topic_ids)), dtype=np.float32)
    for i, g in enumerate(gold):
        for t in g:
            if t in col:
                y[i, col[t]] = 1.0
    return y


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def topic_metrics(
    gold: Sequence[set[str]], pred: Sequence[set[str]], topic_ids: Sequence[str]
) -> dict[str, Any]:
    """Per-topic precision/recall/F1/support, micro and macro averages (macro over topics
    with gold support), and the share of documents whose topic set is exactly right."""
    y = label_matrix(gold, topic_ids).astype(bool)
    yhat = label_matrix(pred, topic_ids).astype(bool)
    per: dict[str, dict[str, float]] = {}
    for j, t in enumerate(topic_ids):
        tp = float((y[:, j] & yhat[:, j]).sum())
        fp = float((~y[:, j] & yhat[:, j]).sum())
        fn = float((y[:, j] & ~yhat[:, j]).sum())
        p, r, f = _prf(tp, fp, fn)
        per[t] = {"precision": p, "recall": r, "f1": f, "support": int(y[:, j].sum())}
        per[t]["predicted"] = int(yhat[:, j].sum())
    mp, mr, mf = _prf(float((y & yhat).sum()), float((~y & yhat).sum()), float((y & ~yhat).sum()))
    supported = [v for v in per.values() if v["support"] > 0]
    n = max(len(supported), 1)
    return {
        "per_topic": per,
        "micro": {"precision": mp, "recall": mr, "f1": mf},
        "macro": {
            "precision": sum(v["precision"] for v in supported) / n,
            "recall": sum(v["recall"] for v in supported) / n,
            "f1": sum(v["f1"] for v in supported) / n,
        },
        "exact_match": float((y == yhat).all(axis=1).mean()) if len(gold) else 0.0,
        "n_docs": len(gold),
    }


def evaluate_topics(
    tagger: TopicTagger, path: str | Path, *, embeddings: np.ndarray | None = None
) -> dict[str, Any]:
    """Tag a corpus CSV with ``tagger`` and score it against the gold topics; adds
    ``ms_per_doc`` (tagging wall time, encoder included)."""
    texts, gold = read_split(path)
    start = time.perf_counter()
    tagged = tagger.tag_many(texts, embeddings=embeddings)
    elapsed = time.perf_counter() - start
    pred = [{t for t, _ in row} for row in tagged]
    result = topic_metrics(gold, pred, tagger.taxonomy.ids)
    result["ms_per_doc"] = 1000 * elapsed / max(len(texts), 1)
    result["mode"] = tagger.mode
    return result


# --- fitting -------------------------------------------------------------------------------


def _folds(n: int, k: int = FOLDS) -> list[np.ndarray]:
    rng = np.random.default_rng(SEED)
    return np.array_split(rng.permutation(n), k)


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


def fit_centroid(emb: np.ndarray, y: np.ndarray, kw: np.ndarray, use_kw: bool) -> TopicHead:
    """Centroid head: ``sigmoid(scale * (cos - thr))``, so 0.5 sits at the tuned threshold."""
    oof = np.zeros_like(y)
    for fold in _folds(len(emb)):
        train = np.setdiff1d(np.arange(len(emb)), fold)
        oof[fold] = emb[fold] @ _centroids(emb[train], y[train]).T
    forced = (kw > 0) if use_kw else np.zeros_like(y, dtype=bool)
    thr = np.array([_best_threshold(oof[:, j], y[:, j], forced[:, j]) for j in range(y.shape[1])])
    c = _centroids(emb, y)
    return TopicHead(
        topics=(),
        weight=(CENTROID_SCALE * c).astype(np.float32),
        bias=(-CENTROID_SCALE * thr).astype(np.float32),
        thresholds=np.full(len(thr), 0.5, dtype=np.float32),
        kind="centroid",
        keywords_or=use_kw,
    )


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
    emb: np.ndarray,
    y: np.ndarray,
    kw: np.ndarray,
    *,
    kw_features: bool,
    kw_or: bool,
    l2_grid: Sequence[float] = (1e-4, 3e-4, 1e-3),
) -> TopicHead:
    """Logistic head; the L2 strength and the per-topic thresholds come from out-of-fold
    predictions on the training rows (best micro F1)."""
    x = np.concatenate([emb, (kw > 0).astype(np.float32)], 1) if kw_features else emb
    x = x.astype(np.float32)
    forced = (kw > 0) if kw_or else np.zeros_like(y, dtype=bool)
    best: tuple[float, float, np.ndarray] | None = None
    for l2 in l2_grid:
        oof = np.zeros_like(y)
        for fold in _folds(len(x)):
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
    return TopicHead(
        topics=(),
        weight=w.astype(np.float32),
        bias=b.astype(np.float32),
        thresholds=np.clip(best[2], 1e-4, 1.0).astype(np.float32),
        kind="logreg",
        keywords_or=kw_or,
        metrics={"l2": best[1], "oof_micro_f1": best[0]},
    )


def fit_head(
    method: str,
    texts: Sequence[str],
    gold: Sequence[set[str]],
    taxonomy: Taxonomy,
    emb: np.ndarray,
) -> TopicHead:
    """Fit one of the embedding methods on training rows; topics = taxonomy topics that have
    training labels."""
    ids = [t for t in taxonomy.ids if any(t in g for g in gold)]
    topics = [taxonomy[t] for t in ids]
    y = label_matrix(gold, ids)
    kw = KeywordRules(topics).hits(texts, cap=1)
    if method in ("centroid", "centroid+keywords"):
        head = fit_centroid(emb, y, kw, use_kw=method == "centroid+keywords")
    elif method in ("logreg", "logreg+kwfeat", "logreg+kwfeat+or"):
        feats = method != "logreg"
        head = fit_logreg(emb, y, kw, kw_features=feats, kw_or=method.endswith("+or"))
    else:
        raise ConfigError(f"unknown topic method {method!r}; choose from {METHODS}")
    feature_topics = tuple(topics) if method.startswith("logreg+kwfeat") else ()
    return TopicHead(
        topics=tuple(ids),
        weight=head.weight,
        bias=head.bias,
        thresholds=head.thresholds,
        kind=head.kind,
        feature_topics=feature_topics,
        keywords_or=head.keywords_or,
        metrics={"method": method, **dict(head.metrics or {})},
    )


def compare_methods(
    train_path: str | Path,
    test_path: str | Path,
    *,
    taxonomy: Taxonomy | None = None,
    encoder: SentenceEncoder | None = None,
    methods: Sequence[str] = METHODS,
) -> dict[str, Any]:
    """Fit every method on ``train_path``, score each on ``test_path``. Returns
    ``{"methods": {name: metrics}, "best": name, "heads": {name: TopicHead}, ...}``."""
    tax = taxonomy or Taxonomy.load()
    train_texts, train_gold = read_split(train_path)
    test_texts, test_gold = read_split(test_path)
    results: dict[str, Any] = {}
    heads: dict[str, TopicHead] = {}
    timing: dict[str, float] = {}
    kw_tagger = TopicTagger(tax)
    start = time.perf_counter()
    pred = kw_tagger.tag_many(test_texts)
    timing["keywords"] = 1000 * (time.perf_counter() - start) / max(len(test_texts), 1)
    results["keywords"] = topic_metrics(test_gold, [{t for t, _ in r} for r in pred], tax.ids)
    embedding_methods = [m for m in methods if m != "keywords"]
    if embedding_methods:
        enc = encoder or SentenceEncoder()
        train_emb = enc.encode(train_texts)
        start = time.perf_counter()
        test_emb = enc.encode(test_texts)
        timing["encode"] = 1000 * (time.perf_counter() - start) / max(len(test_texts), 1)
        for m in embedding_methods:
            head = fit_head(m, train_texts, train_gold, tax, train_emb)
            heads[m] = head
            tagger = TopicTagger(tax, head, enc)
            start = time.perf_counter()
            pred = tagger.tag_many(test_texts, embeddings=test_emb)
            timing[m] = 1000 * (time.perf_counter() - start) / max(len(test_texts), 1)
            results[m] = topic_metrics(test_gold, [{t for t, _ in r} for r in pred], tax.ids)
    best = max(results, key=lambda m: results[m]["micro"]["f1"] + results[m]["macro"]["f1"])
    return {
        "methods": results,
        "best": best,
        "heads": heads,
        "ms_per_doc": timing,
        "n_train": len(train_texts),
        "n_test": len(test_texts),
        "taxonomy": tax.source,
    }


# --- reporting -----------------------------------------------------------------------------


def markdown_table(metrics: dict[str, Any]) -> str:
    lines = [
        "| topic | precision | recall | F1 | support | predicted |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for t, v in metrics["per_topic"].items():
        lines.append(
            f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} "
            f"| {v['support']} | {v['predicted']} |"
        )
    for avg in ("micro", "macro"):
        v = metrics[avg]
        lines.append(
            f"| **{avg}** | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | | |"
        )
    return "\n".join(lines)


def write_model_card(comparison: dict[str, Any], path: str | Path, chosen: str) -> Path:
    """Write the comparison and the chosen method's per-topic table as markdown."""
    res, timing = comparison["methods"], comparison["ms_per_doc"]
    enc = timing.get("encode")
    lines = [
        "# Topic tagger — model card",
        "",
        f"Chosen method: **{chosen}**. Trained on {comparison['n_train']} rows, evaluated on "
        f"{comparison['n_test']} held-out rows (`models/data/test.csv`), taxonomy "
        f"`{Path(comparison['taxonomy']).name}`. Encoder: frozen all-MiniLM-L6-v2, mean-pooled, "
        "L2-normalised, 128 tokens. Thresholds tuned out-of-fold on the training split only.",
        "",
        "## Method comparison (held-out test)",
        "",
        "| method | micro P | micro R | micro F1 | macro F1 | exact set | ms/doc |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m, v in res.items():
        ms = timing.get(m, 0.0) + (enc or 0.0 if m != "keywords" else 0.0)
        lines.append(
            f"| {m} | {v['micro']['precision']:.3f} | {v['micro']['recall']:.3f} "
            f"| {v['micro']['f1']:.3f} | {v['macro']['f1']:.3f} | {v['exact_match']:.3f} "
            f"| {ms:.2f} |"
        )
    lines += [
        "",
        "ms/doc: wall time per document on the build machine's CPU, batches of 64; embedding "
        "methods include the encoder"
        + (f" ({enc:.2f} ms/doc of it)" if enc is not None else "")
        + ".",
        "",
        f"## Per-topic precision / recall — {chosen}",
        "",
        markdown_table(res[chosen]),
        "",
    ]
    if chosen != "keywords":
        lines += ["## Per-topic precision / recall — keywords only (fallback)", ""]
        lines += [markdown_table(res["keywords"]), ""]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="models/data/train.csv")
    ap.add_argument("--test", default="models/data/test.csv")
    ap.add_argument("--taxonomy", default=None)
    ap.add_argument("--out", default=str(ARTIFACT_DIR), help="folder for head + model card")
    ap.add_argument("--method", default="best", help=f"best or one of {', '.join(METHODS)}")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)
    tax = Taxonomy.load(args.taxonomy)
    comp = compare_methods(args.train, args.test, taxonomy=tax)
    chosen = comp["best"] if args.method == "best" else args.method
    summary = {
        m: {"micro_f1": round(v["micro"]["f1"], 4), "macro_f1": round(v["macro"]["f1"], 4)}
        for m, v in comp["methods"].items()
    }
    print(json.dumps({"chosen": chosen, "methods": summary, "ms_per_doc": comp["ms_per_doc"]}))
    if not args.no_save:
        out = Path(args.out)
        if chosen != "keywords":
            comp["heads"][chosen].save(out)
        write_model_card(comp, out / "model_card.md", chosen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
