"""The demo's plan on the bundled sample: how the sample is split and when what is published.

(The demo itself runs as ``make demo DEMO_SECONDS=...``; these check the parts a reader of its
output relies on: the history is everything but the episode, the episode is Acme's and short,
and the live schedule publishes fresh ids stamped now, the episode only after its lead.)
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

from pipeline.demo import BREAKING_MIN, BREAKING_SPEEDUP, SAMPLE, Live, split_sample


def test_split_keeps_every_line_and_isolates_the_episode() -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    s = split_sample()
    assert len(s.history) + len(s.breaking) == len(lines)
    assert len(s.breaking) >= 20  # enough for the detector's minimum volume on its own
    assert all("Acme" in o["title"] for _, o in s.breaking)
    assert s.breaking[-1][0] <= BREAKING_MIN * 60
    history_ids = set()
    for line in s.history:
        with contextlib.suppress(ValueError, AttributeError):
            history_ids.add(json.loads(line).get("id"))
    assert not {o["id"] for _, o in s.breaking} & history_ids
    assert 0 < s.expected < len(s.history)  # the malformed lines are not expected in the store
    offsets = [t for t, _ in s.filler]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] <= 24 * 3600


def test_live_schedule() -> None:
    s = split_sample()
    plan = Live(s, start=0.0, breaking_at=15.0)
    filler, breaking = plan.due(10.0)
    assert breaking == [] and filler  # ordinary news first
    filler2, breaking = plan.due(15.0 + s.breaking[-1][0] / BREAKING_SPEEDUP)
    assert len(breaking) == len(s.breaking)
    assert plan.due(10_000.0)[1] == []  # the episode is published once
    ids = [o["id"] for o in filler + filler2 + breaking]
    assert len(ids) == len(set(ids))
    assert all(i.endswith("~now") for i in (o["id"] for o in breaking))
    now = datetime.now(UTC)
    for o in filler + breaking:
        assert abs(datetime.fromisoformat(o["published_at"]) - now) < timedelta(minutes=1)
