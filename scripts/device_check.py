"""One prepared run on a GPU machine: the training-recipe sweep and CUDA throughput.

Run from the repository root on a machine with CUDA (see docs/performance.md):

    python3 scripts/device_check.py OUT_DIR [--budget-s 420]

1. **Recipe sweep** on ``models/data/train.csv`` / ``val.csv`` (the blind set is never read):
   a baseline and one-change variants (pooling, learning rate, epochs, label smoothing, LoRA
   rank/targets, linear probe first, class weights, the legacy frame corpus in the mix), then
   one run combining every change that beat the baseline. Each run reports validation
   macro-F1 before and after the neutral prior correction and the calibrated ECE.
2. **Throughput** of the batched worker on CUDA (bf16) for the best sweep model and for a
   BERT-base-sized encoder with random weights, on headline-length texts.

Writes ``sweep.json`` and ``throughput.json`` into OUT_DIR as it goes, so a run cut short
still reports what it finished.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = {
    "pooling": "mean",
    "lr": 5e-4,
    "epochs": 3,
    "label_smoothing": 0.0,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_targets": "all",
    "probe_epochs": 0,
    "class_weighted": True,
}
# most informative first: the budget may cut the list short
VARIANTS: list[tuple[str, dict]] = [
    ("baseline", {}),
    ("cls_pooling", {"pooling": "cls"}),
    ("linear_probe_first", {"probe_epochs": 300}),
    ("label_smoothing_0.1", {"label_smoothing": 0.1}),
    ("lr_1e-3", {"lr": 1e-3}),
    ("no_class_weights", {"class_weighted": False}),
    ("with_legacy_corpus", {"legacy": True}),
    ("epochs_5", {"epochs": 5}),
    ("lora_r32", {"lora_r": 32, "lora_alpha": 64}),
    ("lora_r8_attention", {"lora_r": 8, "lora_alpha": 16, "lora_targets": "attention"}),
    ("lr_2e-4", {"lr": 2e-4}),
    ("epochs_2", {"epochs": 2}),
]


# Stage 2: the stage-1 winners together (lr 1e-3, linear probe first), then the knobs left open.
STAGE2_BASE = {**BASE, "lr": 1e-3, "probe_epochs": 300}
STAGE2: list[tuple[str, dict]] = [
    ("s2_mean", {}),
    ("s2_cls", {"pooling": "cls"}),
    ("s2_mean_epochs_5", {"epochs": 5}),
    ("s2_mean_with_legacy", {"legacy": True}),
    ("s2_mean_label_smoothing_0.1", {"label_smoothing": 0.1}),
]
SMOKE = False  # --smoke: a few steps on the CPU, to check the script before spending GPU time


def sweep(out: Path, budget_s: float, stage: int = 1) -> dict:
    import torch

    from models.train import TrainConfig, train

    data = ROOT / "models" / "data"
    device = "cpu" if SMOKE else "cuda"
    name = "cpu (smoke)" if SMOKE else torch.cuda.get_device_name(0)
    results: dict = {"device": name, "base": BASE, "runs": {}}
    started = time.perf_counter()

    base = BASE if stage == 1 else STAGE2_BASE
    results["base"] = base

    def run(name: str, change: dict) -> float:
        params = {**base, **change}
        legacy = params.pop("legacy", False)
        paths = (data / "train.csv",) + ((data / "legacy" / "train.csv",) if legacy else ())
        cfg = TrainConfig(
            data=paths,
            val_data=data / "val.csv",
            eval_data=data / "val.csv",  # the final report scores validation, not the blind set
            out=Path("/tmp/sweep") / name,
            device=device,
            torch_threads=None,
            max_steps=2 if SMOKE else None,
            progress=False,
            seed=13,
            **params,
        )
        t0 = time.perf_counter()
        res = train(cfg)
        cal = res.metrics["training"]["calibration"]
        results["runs"][name] = {
            "change": change,
            "val_macro_f1_raw": cal["val_macro_f1_before_bias"],
            "val_macro_f1": cal["val_macro_f1_after_bias"],
            "neutral_bias": cal["neutral_bias"],
            "temperature": cal["temperature"],
            "val_ece_before": cal["val_ece_before"],
            "val_ece_after": cal["val_ece_after"],
            "best_epoch": res.best_epoch,
            "history": res.history,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        (out / "sweep.json").write_text(json.dumps(results, indent=2))
        print(name, results["runs"][name]["val_macro_f1"], flush=True)
        return float(cal["val_macro_f1_after_bias"])

    if stage == 2:
        for name, change in STAGE2:
            if time.perf_counter() - started > budget_s:
                results["cut_short_at"] = name
                break
            run(name, change)
        best = max(results["runs"].items(), key=lambda kv: kv[1]["val_macro_f1"])
        results["best"] = {"name": best[0], "val_macro_f1": best[1]["val_macro_f1"]}
        (out / "sweep.json").write_text(json.dumps(results, indent=2))
        return results
    base_f1 = run("baseline", {})
    winners: dict = {}
    for name, change in VARIANTS[1:]:
        if time.perf_counter() - started > budget_s:
            results["cut_short_at"] = name
            break
        if run(name, change) > base_f1 + 0.002:
            for k, v in change.items():
                if k not in winners:  # the first winning value of each knob
                    winners[k] = v
    if winners and time.perf_counter() - started < budget_s:
        run("combined", winners)
    best = max(results["runs"].items(), key=lambda kv: kv[1]["val_macro_f1"])
    results["best"] = {"name": best[0], "val_macro_f1": best[1]["val_macro_f1"]}
    (out / "sweep.json").write_text(json.dumps(results, indent=2))
    return results


def throughput(out: Path, best_dir: Path | None) -> dict:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from models.checkpoint import LoadedModel, load_tokenizer
    from models.device import make_runtime
    from models.transformer import TransformerClassifier
    from pipeline.settings import ModelSettings

    runtime_name = "cpu" if SMOKE else "cuda"
    texts = [
        line.split(",")[0]
        for line in (ROOT / "models" / "data" / "val.csv").read_text().splitlines()[1:]
    ]
    n = 300 if SMOKE else 20_000
    texts = (texts * (n // max(len(texts), 1) + 1))[:n]
    sync = (lambda: None) if SMOKE else torch.cuda.synchronize
    report: dict = {"docs": len(texts)}

    def measure(clf: TransformerClassifier) -> float:
        clf.classify(texts[:2048])  # warm-up
        sync()
        t0 = time.perf_counter()
        clf.classify(texts)
        sync()
        return round(len(texts) / (time.perf_counter() - t0), 1)

    runtime = make_runtime("cpu" if SMOKE else "cuda")
    if best_dir is not None:
        for docs in (256, 1024):
            clf = TransformerClassifier.from_folder(best_dir, ModelSettings(device=runtime_name))
            clf.batch_tokens, clf.max_batch_docs = docs * 64, docs
            report[f"minilm_docs_per_s_batch{docs}"] = measure(clf)
    tok = load_tokenizer(ROOT / "models" / "artifacts" / "sentiment-minilm-lora")
    big = BertForSequenceClassification(
        BertConfig(
            vocab_size=tok.vocab_size,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            num_labels=3,
        )
    ).eval()
    loaded = LoadedModel(
        model=big,
        tokenizer=tok,
        label_order=[0, 1, 2],
        version="bert-base-random",
        source=Path("."),
    )
    clf = TransformerClassifier(loaded, runtime, batch_tokens=1024 * 64, max_batch_docs=1024)
    report["bert_base_docs_per_s_batch1024"] = measure(clf)
    report["runtime"] = runtime.description
    (out / "throughput.json").write_text(json.dumps(report, indent=2))
    return report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--budget-s", type=float, default=420)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--stage", type=int, default=1, choices=(1, 2))
    args = ap.parse_args()
    global SMOKE
    SMOKE = args.smoke
    args.out.mkdir(parents=True, exist_ok=True)
    results = sweep(args.out, args.budget_s, args.stage)
    if args.stage == 2:
        return
    best = Path("/tmp/sweep") / results["best"]["name"]
    print(json.dumps(throughput(args.out, best if best.is_dir() else None)))


if __name__ == "__main__":
    main()
