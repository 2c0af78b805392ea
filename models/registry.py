"""Pick and load a classifier from settings.

``name``: ``default`` (the shipped fine-tuned transformer, a LoRA adapter on the packaged
MiniLM under ``models/artifacts/``), ``lexicon`` (the baseline), or a path to a local Hugging
Face folder — a full sequence-classification checkpoint or a LoRA adapter. Loading is the only
place that decides which implementation runs; :func:`embedding_name_for` says, without loading
any weights, which embedding space the chosen classifier will hand out (so the topic tagger can
pick the head that reads it).
"""

from __future__ import annotations

from pathlib import Path

from models.base import Classifier
from models.config import ModelSettings
from pipeline.errors import ModelError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "artifacts" / "sentiment-minilm-lora"


def model_folder(settings: ModelSettings) -> Path | None:
    """The checkpoint folder ``settings.name`` names (``None`` for the lexicon)."""
    name = settings.name
    if name == "lexicon":
        return None
    if name == "default":
        folder = DEFAULT_MODEL_DIR
        if not (folder / "adapter_config.json").is_file():
            raise ModelError(
                f"the shipped model is missing from {folder}; run `finsentry train` "
                "or pass --model lexicon"
            )
        return folder
    folder = Path(name).expanduser()
    if not folder.is_dir():
        raise ModelError(
            f"unknown model {name!r}: use default, lexicon or a local checkpoint folder"
        )
    return folder


def embedding_name_for(settings: ModelSettings) -> str | None:
    """The ``embedding_name`` the classifier of ``settings`` will have: only finsentry's pooled
    models give embeddings; the lexicon and foreign checkpoints give ``None``."""
    from models.checkpoint import artifact_version
    from models.pooled import META_FILE, ModelMeta, embedding_name

    folder = model_folder(settings)
    if folder is None or not (folder / META_FILE).is_file():
        return None
    try:
        meta = ModelMeta.load(folder)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: unreadable model metadata: {exc}") from exc
    return embedding_name(artifact_version(folder), meta.embedding_layer)


def load_classifier(settings: ModelSettings) -> Classifier:
    folder = model_folder(settings)
    if folder is None:
        from models.lexicon import LexiconClassifier

        return LexiconClassifier()
    from models.transformer import TransformerClassifier

    return TransformerClassifier.from_folder(folder, settings)
