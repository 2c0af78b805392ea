"""Worker threads for the batch steps, joined by bounded queues.

Why threads: the forward pass (torch), the tokenizer and the database driver release the GIL,
so decoding and tokenising the next batch and writing the previous one overlap the current
batch's forward pass. Why bounded: the loop admits at most ``depth`` batches in flight, so
memory stays bounded and a slow store slows the polling down (backpressure) instead of piling
up records.

Each step is one thread, so batches stay in poll order through every step, and a finished (or
failed) batch comes back to the loop's own thread through ``done`` — only that thread touches
the Kafka consumer (poll, commit, seek). A failed batch skips the later steps and cuts the
line behind it, so the batches behind it are dropped without being worked on (the ones ahead
of it finish and are committed): the loop rewinds and the rest come back from the broker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from consumers.stages import Batch

log = logging.getLogger(__name__)

Step = Callable[[Batch], None]
_NEVER = 1 << 62


class StageThreads:
    """Runs ``steps`` in order over submitted batches, one daemon thread per step."""

    def __init__(self, steps: Sequence[tuple[str, Step]], depth: int) -> None:
        self.depth = max(1, depth)
        self.done: queue.Queue[Batch] = queue.Queue()
        self._last_seq = 0
        self._cleared_upto = 0  # batches up to this seq were dropped by the loop
        self._cut_from = _NEVER  # batches from this seq on sit behind a failed one
        self._lock = threading.Lock()
        self._queues: list[queue.Queue[Batch | None]] = [
            queue.Queue(maxsize=self.depth) for _ in steps
        ]
        self._threads = []
        for i, (name, step) in enumerate(steps):
            nxt = self._queues[i + 1] if i + 1 < len(steps) else None
            t = threading.Thread(
                target=self._work,
                args=(step, self._queues[i], nxt),
                name=f"finsentry-{name}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def submit(self, batch: Batch) -> None:
        self._last_seq = max(self._last_seq, batch.seq)
        self._queues[0].put(batch)

    def invalidate(self) -> None:
        """Drop every batch submitted so far: the steps skip them and ``done`` never sees
        them. Batches submitted afterwards run normally."""
        with self._lock:
            self._cleared_upto = self._last_seq
            self._cut_from = _NEVER

    def stale(self, batch: Batch) -> bool:
        return batch.seq <= self._cleared_upto or batch.seq >= self._cut_from

    def _work(
        self,
        step: Step,
        inbox: queue.Queue[Batch | None],
        outbox: queue.Queue[Batch | None] | None,
    ) -> None:
        while True:
            batch = inbox.get()
            if batch is None:
                if outbox is not None:
                    outbox.put(None)
                return
            if self.stale(batch):
                continue
            try:
                step(batch)
            except BaseException as exc:  # the loop's thread applies the policy
                batch.error = exc
                with self._lock:
                    if batch.seq > self._cleared_upto:  # nothing behind it may be worked on
                        self._cut_from = min(self._cut_from, batch.seq + 1)
                self.done.put(batch)
                continue
            if outbox is None:
                self.done.put(batch)
            else:
                outbox.put(batch)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the threads, waiting at most ``timeout_s`` in all (they are daemon threads: one
        stuck in a step must not hold up a SIGTERM)."""
        deadline = time.monotonic() + timeout_s
        self.invalidate()
        try:
            self._queues[0].put(None, timeout=timeout_s)
        except queue.Full:
            log.warning("pipeline steps still busy at shutdown")
            return
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
