"""Pick and load a classifier from settings.

``name``: ``default`` (the shipped fine-tuned transformer, a LoRA adapter on the packaged
MiniLM under ``models/artifacts/``), ``lexicon`` (the baseline), or a path to a local Hugging
Face folder — a full sequence-classification checkpoint or a LoRA adapter. Loading is the only
place that decides which implementation runs.
"""

from __future__ import annotations

from pathlib import Path

from models.base import Classifier
from models.config import ModelSettings

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "artifacts" / "sentiment-minilm-lora"


def load_classifier(settings: ModelSettings) -> Classifier:
    from pipeline.errors import ModelError

    name = settings.name
    if name == "lexicon":
        from models.lexicon import LexiconClassifier

        return LexiconClassifier()
    if name == "default":
        folder = DEFAULT_MODEL_DIR
        if not (folder / "adapter_config.json").is_file():
            raise ModelError(
                f"the shipped model is missing from {folder}; run `finsentry train` "
                "or pass --model lexicon"
            )
    else:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise ModelError(
                f"unknown model {name!r}: use default, lexicon or a local checkpoint folder"
            )
    from models.transformer import TransformerClassifier

    return TransformerClassifier.from_folder(folder, settings)
