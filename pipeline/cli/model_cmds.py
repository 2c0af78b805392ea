"""Model commands: ``finsentry train``, ``finsentry eval`` and ``finsentry bench classify``.

The heavy imports (torch, transformers, peft) happen inside the handlers so that ``finsentry
--help`` and the other commands stay fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline.cli import CliRegistry
from pipeline.errors import ConfigError
from pipeline.settings import Settings

FORMATS = ("csv", "phrasebank")


def register(cli: CliRegistry) -> None:
    p = cli.add(
        "train",
        _train,
        "fine-tune the sentiment model (LoRA on the packaged MiniLM) and write its model card",
    )
    p.add_argument(
        "--data",
        metavar="FILE",
        action="append",
        help="training file, repeatable (default: models/data/train.csv)",
    )
    p.add_argument("--format", choices=FORMATS, help="data format (default: by file extension)")
    p.add_argument("--eval-data", metavar="FILE", help="held-out file scored after training")
    p.add_argument("--eval-format", choices=FORMATS, help="format of --eval-data")
    p.add_argument("--out", metavar="DIR", help="adapter folder (default: the shipped model)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after M min")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--val-data", metavar="FILE", help="validation file (default: val.csv)")
    p.add_argument("--pooling", choices=("mean", "cls"), help="sentence pooling")
    p.add_argument("--lora-r", type=int, default=None, help="LoRA rank")
    p.add_argument(
        "--lora-targets", choices=("attention", "all"), help="LoRA on attention or all linears"
    )
    p.add_argument("--label-smoothing", type=float, default=None, help="e.g. 0.1")
    p.add_argument("--probe-epochs", type=int, default=None, help="linear-probe passes first")
    p.add_argument(
        "--no-prior-correction", action="store_true", help="keep the neutral logit bias at 0"
    )
    p.add_argument("--no-class-weights", action="store_true", help="plain cross-entropy")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = cli.add("eval", _eval, "score the selected model on a labelled file; prints JSON")
    p.add_argument("--data", metavar="FILE", required=True, help="labelled file")
    p.add_argument("--format", choices=FORMATS, help="data format (default: by file extension)")

    p = cli.add_bench(
        "classify", _bench, "docs/s of the lexicon, a naive pipeline and the batched worker"
    )
    p.add_argument("--n", type=int, default=512, help="number of documents (default 512)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="max docs per worker batch (settings)"
    )

    p = cli.add_bench(
        "cpu", _bench_cpu, "CPU options (int8, ONNX Runtime) and eager vs lazy explanations"
    )
    p.add_argument("--n", type=int, default=1000, help="number of documents (default 1000)")


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from models.train import TrainConfig, train

    overrides: dict[str, Any] = {
        "device": settings.model.device,
        "torch_threads": settings.model.torch_threads,
        "progress": not args.no_progress,
    }
    if args.data:
        overrides["data"] = tuple(Path(p) for p in args.data)
    if args.format:
        overrides["fmt"] = args.format
    if args.eval_data:
        overrides["eval_data"] = Path(args.eval_data)
    if args.eval_format:
        overrides["eval_fmt"] = args.eval_format
    if args.out:
        overrides["out"] = Path(args.out)
    if args.val_data:
        overrides["val_data"] = Path(args.val_data)
    if args.pooling:
        overrides["pooling"] = args.pooling
    if args.lora_targets:
        overrides["lora_targets"] = args.lora_targets
    if args.lora_r is not None:
        if args.lora_r <= 0:
            raise ConfigError("--lora-r must be positive")
        overrides["lora_r"] = args.lora_r
        overrides["lora_alpha"] = 2 * args.lora_r
    if args.label_smoothing is not None:
        if not 0 <= args.label_smoothing < 1:
            raise ConfigError("--label-smoothing must be in [0, 1)")
        overrides["label_smoothing"] = args.label_smoothing
    if args.probe_epochs is not None:
        overrides["probe_epochs"] = max(0, args.probe_epochs)
    if args.no_prior_correction:
        overrides["prior_correction"] = False
    if args.no_class_weights:
        overrides["class_weighted"] = False
    for flag in ("epochs", "seed", "max_minutes", "batch_size", "lr"):
        value = getattr(args, flag)
        if value is not None:
            if value <= 0 and flag != "seed":
                raise ConfigError(f"--{flag.replace('_', '-')} must be positive")
            overrides[flag] = value
    result = train(TrainConfig(**overrides))
    summary = {k: v for k, v in result.metrics.items() if k not in ("training", "per_class")}
    summary["out"] = str(result.out)
    summary["best_epoch"] = result.best_epoch
    summary["train_seconds"] = result.metrics["training"]["train_seconds"]
    print(json.dumps(summary))
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from models.datasets import load_examples
    from models.evaluate import evaluate
    from models.registry import load_classifier

    examples = load_examples(args.data, args.format)
    metrics = evaluate(load_classifier(settings.model), examples)
    metrics["data"] = args.data
    print(json.dumps(metrics))
    return 0


def _bench_cpu(args: argparse.Namespace, settings: Settings) -> int:
    from models.bench_cpu import run

    if args.n < 64:
        raise ConfigError("--n must be at least 64")
    print(json.dumps(run(args.n)), flush=True)
    return 0


def _bench(args: argparse.Namespace, settings: Settings) -> int:
    from models.bench import run_classify_bench
    from models.registry import load_classifier
    from models.transformer import TransformerClassifier

    if args.n < 1:
        raise ConfigError("--n must be positive")
    model = settings.model
    if model.name == "lexicon":
        model = model.model_copy(update={"name": "default"})
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise ConfigError("--batch-size must be positive")
        model = model.model_copy(update={"max_batch_docs": args.batch_size})
    worker = load_classifier(model)
    if not isinstance(worker, TransformerClassifier):  # pragma: no cover - registry contract
        raise ConfigError("bench classify needs a transformer model")

    def progress(line: str) -> None:
        print(line, flush=True)

    summary = run_classify_bench(worker, args.n, progress=progress)
    print(json.dumps(summary), flush=True)
    sys.stdout.flush()
    return 0
