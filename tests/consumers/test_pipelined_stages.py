"""The worker threads of the pipelined loop on their own: order, the cut behind a failure, and
the loop's invalidation — what the in-order commit relies on."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from consumers.pipelined import StageThreads
from consumers.stages import Batch


def batches(n: int, start: int = 1) -> list[Batch]:
    return [Batch(records=[], seq=i) for i in range(start, start + n)]


def drain(stages: StageThreads, timeout_s: float = 2.0) -> list[Batch]:
    out: list[Batch] = []
    while True:
        try:
            out.append(stages.done.get(timeout=timeout_s))
        except queue.Empty:
            return out


def test_batches_leave_in_the_order_they_came() -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def step(name: str, delay: float) -> Callable[[Batch], None]:
        def run(b: Batch) -> None:
            time.sleep(delay * (b.seq % 3))
            with lock:
                seen.append((name, b.seq))

        return run

    stages = StageThreads([("a", step("a", 0.002)), ("b", step("b", 0.001))], depth=3)
    for b in batches(20):
        stages.submit(b)
    out = drain(stages, 0.5)
    stages.close()
    assert [b.seq for b in out] == list(range(1, 21))
    assert [s for n, s in seen if n == "b"] == list(range(1, 21))


def test_a_failure_cuts_the_line_behind_it_but_not_ahead() -> None:
    started = threading.Event()
    release = threading.Event()
    worked: list[int] = []

    def first(b: Batch) -> None:
        if b.seq == 3:
            raise RuntimeError("model step failed")

    def second(b: Batch) -> None:
        if b.seq == 1:
            started.set()
            release.wait(2)  # batch 1 is still being stored when batch 3 fails
        worked.append(b.seq)

    stages = StageThreads([("first", first), ("second", second)], depth=5)
    for b in batches(5):
        stages.submit(b)
    assert started.wait(2)
    time.sleep(0.1)
    release.set()
    out = drain(stages, 0.5)
    stages.close()
    # a failure comes back at once (the loop puts it in line by seq); the ones ahead finish
    assert sorted((b.seq, b.error is not None) for b in out) == [(1, False), (2, False), (3, True)]
    assert worked == [1, 2]  # 4 and 5 sat behind the failure: never stored


def test_invalidate_drops_what_was_submitted_and_keeps_what_comes_after() -> None:
    gate = threading.Event()

    def slow(b: Batch) -> None:
        if b.seq == 1:
            gate.wait(2)

    stages = StageThreads([("slow", slow)], depth=4)
    for b in batches(3):
        stages.submit(b)
    stages.invalidate()  # the loop rewound: 1..3 come back from the broker as new batches
    gate.set()
    for b in batches(2, start=4):
        stages.submit(b)
    out = drain(stages, 0.5)
    stages.close()
    assert [b.seq for b in out] in ([4, 5], [1, 4, 5])  # 1 may have been mid-step already
