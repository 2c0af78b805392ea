"""The model package's own settings sections: which classifier runs where, and how articles are
tagged.

They live here, not in ``pipeline/settings.py``, so ``models/`` never imports the layer above it:
``pipeline/settings.py`` composes these sections into the one frozen ``Settings`` object, and the
loaders in ``models/`` (``registry.load_classifier``, ``TransformerClassifier.from_folder``,
``TopicTagger.from_settings``, ``EntityTagger.from_settings``) take exactly the section they read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelSettings(_Frozen):
    # "default" = the shipped fine-tuned transformer; "lexicon" = the fast baseline;
    # anything else = a local Hugging Face folder (full checkpoint or LoRA adapter).
    name: str = "default"
    device: str = "auto"  # auto (CUDA when present), cpu, cuda or cuda:N
    torch_threads: int | None = Field(default=None, ge=1)  # CPU threads for torch (None: its own)
    max_tokens: int = Field(default=128, ge=16, le=512)  # tokens classified per article (the lead)
    batch_tokens: int = Field(default=8192, ge=256)  # token budget of one forward batch
    max_batch_docs: int = Field(default=64, ge=1)  # articles per forward batch at most
    explain_negative: bool = True  # rescore explains negatives now; the daemon, on show

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda") or (v.startswith("cuda:") and v[5:].isdigit()):
            return v
        raise ValueError("device must be auto, cpu, cuda or cuda:N")


class TaggingSettings(_Frozen):
    # None = the shipped taxonomy (models/taxonomy.toml); a path = your own, extending or
    # replacing it.
    taxonomy: Path | None = None
    # default = shipped topic head (on the sentiment model's own embedding when it gives one,
    # else on a frozen MiniLM pass); lexical = encoder-free head; keywords = taxonomy rules
    # only (no torch); or a folder with a head you trained.
    topic_model: str = "default"
    # None = no watchlist: cashtags and the message's tickers field still tag entities.
    watchlist: Path | None = None
    # also keep entity×topic series (entity:ACME/topic:litigation_regulation)
    entity_topic_series: bool = True
