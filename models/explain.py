"""Which words pushed a document toward its label: gradient × input.

Method: the gradient of the predicted class's log-probability with respect to each input token
embedding, multiplied (dot product) by that embedding. It is a first-order estimate of how much
the log-probability would drop if the token were removed, signed, so positive weights are the
words that pushed *toward* the label. We use it because

* it is **faithful to the computation**: it reads the network's actual sensitivity, while
  attention weights (and attention rollout) show where information was routed, not what changed
  the decision — they are known to disagree with ablations (Jain & Wallace 2019);
* it costs **one backward pass per batch**, so the daemon can explain every negative article;
  integrated gradients would be steadier but multiplies the cost by its step count.

Wordpieces are merged into the whitespace-delimited words of the text (the sum of their
scores); special tokens and punctuation are dropped; weights are normalised by the total
absolute attribution of the document so they compare across documents. The words shown are the
strongest *content* words: function words ("the", "to", "would", :mod:`models.stopwords`) and
bare numbers ("1,200") are ranked out, since every sentence has them and they tell a reader
nothing about why this one got its label; their attribution still counts in the normaliser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from models.stopwords import FUNCTION_WORDS


def gradient_x_input(
    model: Any,
    inputs: dict[str, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``[B, C]`` and per-token attributions ``[B, T]`` toward each row's argmax class.

    Runs in full precision with gradients enabled; rows are independent (padding is masked), so
    one backward pass serves the whole batch.
    """
    input_ids = inputs["input_ids"]
    with torch.enable_grad():
        embeds = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
        extra = {k: v for k, v in inputs.items() if k != "input_ids"}
        logits = model(inputs_embeds=embeds, **extra).logits.float()
        target = logits.argmax(dim=-1, keepdim=True)
        logp = torch.log_softmax(logits, dim=-1).gather(1, target).sum()
        (grad,) = torch.autograd.grad(logp, embeds)
    attributions = (grad * embeds).sum(dim=-1) * inputs["attention_mask"]
    return logits.detach(), attributions.detach()


def _is_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _is_shown(word: str) -> bool:
    """A content word: it has a letter and is not a function word."""
    return any(ch.isalpha() for ch in word) and word.lower() not in FUNCTION_WORDS


def merge_words(
    text: str,
    offsets: Sequence[tuple[int, int]],
    scores: Sequence[float],
    top_k: int,
) -> tuple[tuple[str, float], ...]:
    """Top ``top_k`` content words of ``text`` with positive weight, strongest first.

    ``offsets`` are the tokens' character spans in ``text`` ((0, 0) for special tokens) and
    ``scores`` their attributions. Tokens whose spans touch (no whitespace between) belong to
    one word; punctuation-only tokens add nothing.
    """
    words: list[tuple[int, int, float]] = []  # start, end, score
    total = 0.0
    for (start, end), score in zip(offsets, scores, strict=True):
        if end <= start:  # special or padding token
            continue
        piece = text[start:end]
        if words and start == words[-1][1]:  # continues the previous word
            s0, _, acc = words[-1]
            words[-1] = (s0, end, acc + (score if _is_word(piece) else 0.0))
        else:
            words.append((start, end, score if _is_word(piece) else 0.0))
        if _is_word(piece):
            total += abs(score)
    if total == 0.0:
        return ()
    merged: dict[str, tuple[str, float]] = {}
    for start, end, score in words:
        word = text[start:end].strip("\"'()[]{}.,;:!?“”‘’«»")
        if not _is_shown(word):
            continue
        key = word.lower()
        shown, acc = merged.get(key, (word, 0.0))
        merged[key] = (shown, acc + score / total)
    ranked = sorted((v for v in merged.values() if v[1] > 0), key=lambda v: (-v[1], v[0]))
    return tuple(ranked[:top_k])
