"""Length bucketing: group documents into batches under a padded-token budget.

Documents are sorted by token length, so each batch pads to a length close to every member's
own; a batch closes when adding the next document would make ``docs × longest`` exceed
``batch_tokens`` or the batch already holds ``max_docs``. A single document longer than the
budget still forms a batch of its own (it was already truncated to ``max_tokens``).
"""

from __future__ import annotations

from collections.abc import Sequence


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
