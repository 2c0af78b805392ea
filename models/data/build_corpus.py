"""Build train.csv / val.csv / blind.csv from the written corpus (see models/corpus.py).

    python models/data/build_corpus.py items c_wire_headlines   # text-only, for 2nd labelling
    python models/data/build_corpus.py build              # agreement, dedup, split, CSVs, stats

``build`` is deterministic (fixed seeds); it prints the statistics and writes them to
``models/data/corpus_stats.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from models.corpus import (  # noqa: E402
    LABEL_ORDER,
    Row,
    cohen_kappa,
    distinct_ngram_ratio,
    near_duplicate_pairs,
    normalise,
    opaque_id,
    parse_corpus,
    read_labels,
    relabel,
    stratified_val,
    write_csv,
    write_label_items,
)

CORPUS = HERE / "corpus"
LABELS_DIR = HERE / "labels"
LEGACY = HERE / "legacy"
SEED = 20261204


def cmd_items(args: argparse.Namespace) -> None:
    from models.corpus import parse_file

    for stem in args.stems:
        rows = parse_file(CORPUS / f"{stem}.txt")
        path = write_label_items(rows, LABELS_DIR / f"{stem}.items.tsv")
        print(f"{len(rows)} items in {path}")


def _embed(texts: list[str]):  # type: ignore[no-untyped-def]
    from models.topics import SentenceEncoder

    return SentenceEncoder(max_tokens=96, max_batch_docs=128).encode(texts)


def cmd_build(args: argparse.Namespace) -> None:
    rows = parse_corpus(CORPUS)
    stats: dict = {"written": len(rows)}

    # 1. exact duplicates (case/punctuation/number-insensitive): a blind row wins over training
    by_norm: dict[str, Row] = {}
    exact_dropped = 0
    for r in sorted(rows, key=lambda r: (not r.blind, r.id)):
        key = normalise(r.text)
        if key in by_norm:
            exact_dropped += 1
            continue
        by_norm[key] = r
    rows = sorted(by_norm.values(), key=lambda r: r.id)
    stats["exact_duplicates_removed"] = exact_dropped

    # 2. second labels: agreement per register; disagreements adjudicated or dropped
    second = read_labels(sorted(LABELS_DIR.glob("*.labels.tsv")))
    if args.first_labels_only:  # provisional build while the second pass is running
        second = {opaque_id(r.id): r.label for r in rows}
    adjudicated = read_labels(sorted(LABELS_DIR.glob("adjudicated*.tsv")))
    by_register: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    kept: list[Row] = []
    missing = disagreed = resolved = 0
    for r in rows:
        other = second.get(opaque_id(r.id))
        if other is None:
            missing += 1
            continue
        a, b = by_register[("blind:" if r.blind else "") + r.register]
        a.append(r.label)
        b.append(other)
        if other == r.label:
            kept.append(r)
            continue
        disagreed += 1
        final = adjudicated.get(opaque_id(r.id))
        if final is not None:
            resolved += 1
            kept.append(relabel(r, final))
    stats["second_label_missing"] = missing
    stats["disagreements"] = disagreed
    stats["disagreements_resolved"] = resolved
    stats["disagreements_dropped"] = disagreed - resolved
    all_a = [x for a, _ in by_register.values() for x in a]
    all_b = [x for _, b in by_register.values() for x in b]
    stats["kappa"] = {
        "overall": round(cohen_kappa(all_a, all_b), 3),
        **{k: round(cohen_kappa(a, b), 3) for k, (a, b) in sorted(by_register.items())},
    }
    agree = sum(x == y for x, y in zip(all_a, all_b, strict=True))
    stats["agreement"] = round(agree / max(len(all_a), 1), 3)
    rows = kept

    # 3. near-duplicates by MiniLM cosine or word-shingle Jaccard; a blind row wins
    rows = sorted(rows, key=lambda r: (not r.blind, r.id))
    emb = _embed([r.text for r in rows])
    drop: set[int] = set()
    kinds: Counter[str] = Counter()
    cross = 0
    for i, j, why in near_duplicate_pairs([r.text for r in rows], emb):
        if i in drop or j in drop:
            continue
        drop.add(j)  # j sorts after i: a training row after a blind one
        kinds[why] += 1
        cross += rows[i].blind and not rows[j].blind
    rows = [r for k, r in enumerate(rows) if k not in drop]
    stats["near_duplicates_removed"] = dict(kinds)
    stats["training_rows_removed_as_near_copies_of_blind_rows"] = cross

    # 4. split: blind = the blind author's rows; val = 10% of each (register, label) of the rest
    blind = sorted((r for r in rows if r.blind), key=lambda r: r.id)
    train, val = stratified_val([r for r in rows if not r.blind], 0.1, SEED)
    write_csv(train, HERE / "train.csv")
    write_csv(val, HERE / "val.csv")
    write_csv(blind, HERE / "blind.csv")

    def table(part: list[Row]) -> dict:
        t: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABEL_ORDER, 0))
        for r in part:
            t[r.register][r.label] += 1
        return {k: dict(v) for k, v in sorted(t.items())}

    stats["rows"] = {"train": len(train), "val": len(val), "blind": len(blind)}
    stats["train_val_by_register"] = table(train + val)
    stats["blind_by_register"] = table(blind)
    stats["hard_kinds_train_val"] = dict(Counter(r.kind for r in train + val).most_common())
    stats["authors_train_val"] = dict(sorted(Counter(r.author for r in train + val).items()))
    new_ratio = distinct_ngram_ratio(r.text for r in train + val)
    legacy = []
    for name in ("train.csv", "test.csv"):
        p = LEGACY / name
        if p.is_file():
            import csv

            with p.open(encoding="utf-8") as fh:
                legacy.extend(row["text"] for row in csv.DictReader(fh))
    stats["distinct_4gram_ratio"] = {
        "new_train_val": round(new_ratio, 4),
        "legacy_frames": round(distinct_ngram_ratio(legacy), 4) if legacy else None,
    }
    (HERE / "corpus_stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(stats, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("items")
    p.add_argument("stems", nargs="+", help="corpus file names without .txt")
    p = sub.add_parser("build")
    p.add_argument(
        "--first-labels-only",
        action="store_true",
        help="provisional: treat the writers' labels as agreed (no second pass yet)",
    )
    args = ap.parse_args()
    {"items": cmd_items, "build": cmd_build}[args.cmd](args)


if __name__ == "__main__":
    main()
