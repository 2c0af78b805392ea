"""Length bucketing: group documents into batches under a padded-token budget.

Documents are sorted by token length, so each batch pads to a length close to every member's
own; a batch closes when adding the next document would make ``docs × longest`` exceed
``batch_tokens`` or the batch already holds ``max_docs``. A single document longer than the
budget still forms a batch of its own (it was already truncated to ``max_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def plan_batches(lengths: Sequence[int], batch_tokens: int, max_docs: int) -> list[list[int]]:
    """Indices into ``lengths`` grouped into batches, shortest documents first."""
    if batch_tokens < 1 or max_docs < 1:
        raise ValueError("batch_tokens and max_docs must be positive")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[i]  # ascending order: the newcomer is the longest so far
        if current and ((len(current) + 1) * longest > batch_tokens or len(current) >= max_docs):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def pad_group(
    ids: Sequence[Sequence[int]], group: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` for the documents ``group`` (indices into ``ids``),
    right-padded with ``pad_id`` to the group's longest."""
    width = max(len(ids[i]) for i in group)
    input_ids = torch.full((len(group), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(group), width), dtype=torch.long)
    for row, i in enumerate(group):
        input_ids[row, : len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
        mask[row, : len(ids[i])] = 1
    return input_ids, mask
