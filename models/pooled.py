"""The sentiment model finsentry trains: encoder → pooling → dropout → linear head, plus the
calibration that makes its probabilities honest.

Why not ``BertForSequenceClassification``: its head reads the pooler's transform of the [CLS]
token, while all-MiniLM-L6-v2 was trained as a *mean-pooled* sentence encoder; mean pooling
over the real tokens is the representation the base model already makes meaningful. Both are
kept (``pooling = "mean" | "cls"``) so the training recipe can compare them on validation.

A folder of this kind holds the LoRA adapter of the encoder (``adapter_config.json`` +
``adapter_model.safetensors``, peft's format), the head (``head.safetensors``), the tokenizer,
and ``finsentry_model.json``: pooling, label order, the calibration temperature and the
per-class logit bias (the class-prior correction chosen on validation). Probabilities are
``softmax((logits + bias) / T)``; ``T`` only rescales, so it never changes a label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from models.base import LABELS

META_FILE = "finsentry_model.json"
HEAD_FILE = "head.safetensors"
Pooling = Literal["mean", "cls"]


@dataclass
class Output:
    logits: torch.Tensor
    # the mean-pooled vector of ``embedding_layer``: the topic head's features
    embedding: torch.Tensor | None = None


@dataclass(frozen=True)
class ModelMeta:
    """What ``finsentry_model.json`` records besides the weights."""

    pooling: Pooling = "mean"
    labels: tuple[str, ...] = LABELS
    temperature: float = 1.0
    logit_bias: tuple[float, ...] = (0.0, 0.0, 0.0)
    # which encoder layer's mean-pooled output the model hands out as its embedding (the topic
    # head's features); None = the last layer, the one the sentiment head reads
    embedding_layer: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        data = {
            "kind": "finsentry-pooled-classifier",
            "pooling": self.pooling,
            "labels": list(self.labels),
            "temperature": self.temperature,
            "logit_bias": list(self.logit_bias),
            **(
                {"embedding_layer": self.embedding_layer}
                if self.embedding_layer is not None
                else {}
            ),
            **self.extra,
        }
        (folder / META_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ModelMeta:
        data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        pooling = data.get("pooling", "mean")
        if pooling not in ("mean", "cls"):
            raise ValueError(f"unknown pooling {pooling!r}")
        known = {"kind", "pooling", "labels", "temperature", "logit_bias", "embedding_layer"}
        layer = data.get("embedding_layer")
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
            raise ValueError(f"embedding_layer must be an integer, not {layer!r}")
        return cls(
            pooling=pooling,
            labels=tuple(data.get("labels", LABELS)),
            temperature=float(data.get("temperature", 1.0)),
            logit_bias=tuple(float(b) for b in data.get("logit_bias", (0.0, 0.0, 0.0))),
            embedding_layer=layer,
            extra={k: v for k, v in data.items() if k not in known},
        )


class PooledClassifier(nn.Module):
    """``encoder`` (a Hugging Face ``BertModel``, possibly LoRA-wrapped) with a pooled head.

    ``forward`` takes the usual ``input_ids`` / ``attention_mask`` / ``token_type_ids`` (or
    ``inputs_embeds``, for explanations) and returns an object with ``.logits`` — the calibrated
    logits ``(raw + bias) / T`` — so the worker and the explainer treat it like any
    sequence-classification model.
    """

    def __init__(
        self,
        encoder: Any,
        *,
        pooling: Pooling = "mean",
        num_labels: int = 3,
        dropout: float = 0.1,
        embedding_layer: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling: Pooling = pooling
        n_layers = int(encoder.config.num_hidden_layers)
        if embedding_layer is not None and not 0 <= embedding_layer <= n_layers:
            raise ValueError(f"embedding_layer must be in 0..{n_layers}, not {embedding_layer}")
        self.embedding_layer = embedding_layer
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        self.temperature: torch.Tensor
        self.logit_bias: torch.Tensor
        self.register_buffer("temperature", torch.ones(()))
        self.register_buffer("logit_bias", torch.zeros(num_labels))

    @property
    def config(self) -> Any:
        return self.encoder.config

    def get_input_embeddings(self) -> nn.Module:
        module: nn.Module = self.encoder.get_input_embeddings()
        return module

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    def raw_logits(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.pooled_and_logits(input_ids, attention_mask, token_type_ids, inputs_embeds)[1]

    def pooled_and_logits(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The embedding and the raw (uncalibrated) logits of one forward pass: the embedding
        is the mean-pooled output of ``embedding_layer`` (the last layer's pooled vector the
        head reads when that is None) — an intermediate layer costs nothing extra, the pass
        computes it anyway."""
        if attention_mask is None:
            ref = input_ids if input_ids is not None else inputs_embeds
            assert ref is not None
            attention_mask = torch.ones(ref.shape[:2], dtype=torch.long, device=ref.device)
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_hidden_states=self.embedding_layer is not None,
        )
        pooled = self.pool(out.last_hidden_state, attention_mask)
        logits: torch.Tensor = self.classifier(self.dropout(pooled))
        if self.embedding_layer is None:
            return pooled, logits
        m = attention_mask.unsqueeze(-1)
        hidden = out.hidden_states[self.embedding_layer]
        mean = (hidden * m.to(hidden.dtype)).sum(1) / m.sum(1).clamp(min=1).to(hidden.dtype)
        return mean, logits

    def forward(self, **inputs: torch.Tensor | None) -> Output:
        pooled, raw = self.pooled_and_logits(**inputs)
        logits = (raw + self.logit_bias.to(raw.dtype)) / self.temperature.to(raw.dtype)
        return Output(logits=logits, embedding=pooled)

    def set_calibration(self, temperature: float, logit_bias: tuple[float, ...]) -> None:
        self.temperature.fill_(float(temperature))
        self.logit_bias.copy_(torch.tensor(logit_bias, dtype=self.logit_bias.dtype))


def embedding_name(version: str, layer: int | None) -> str:
    """What a topic head records as its encoder when it reads this model's embeddings."""
    return f"{version}/layer{'last' if layer is None else layer}/mean/l2"


def save_head(model: PooledClassifier, folder: Path) -> None:
    from safetensors.torch import save_file

    tensors = {
        f"classifier.{k}": v.detach().half().contiguous()
        for k, v in model.classifier.state_dict().items()
    }
    save_file(tensors, str(folder / HEAD_FILE), metadata={"format": "pt"})
    (folder / HEAD_FILE).chmod(0o644)


def load_head(model: PooledClassifier, folder: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / HEAD_FILE))
    state = {k.removeprefix("classifier."): v.float() for k, v in tensors.items()}
    model.classifier.load_state_dict(state)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 200) -> float:
    """The temperature minimising validation NLL (LBFGS on log T, so T stays positive)."""
    logits = logits.detach().float()
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))
