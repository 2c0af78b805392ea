"""Build the bundled demo stream ``pipeline/sample/news_sample.jsonl`` (deterministic).

Four days of ordinary wire traffic across sources and companies, then a planted negative
episode for Acme Corp in the final 11 minutes (the alert demo), plus the dirt real feeds carry: a few
malformed lines, a message without an id, HTML in bodies and re-sent duplicates. Timestamps are
rebased to "now" at replay time by ``finsentry produce --rebase-time``.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

COMPANIES = [
    ("Acme Corp", "ACME"),
    ("Northwind Traders", "NWND"),
    ("Globex", "GLBX"),
    ("Initech", "INIT"),
    ("Umbrella Pharma", "UMBR"),
    ("Hooli", "HOOL"),
    ("Vandelay Industries", "VDLY"),
    ("Cyberdyne Systems", "CYDN"),
    ("Apple", "AAPL"),
    ("Microsoft", "MSFT"),
]
SOURCES = ["reuters", "bloomberg", "dowjones", "prnewswire", "marketwatch"]
NEUTRAL = [
    "{c} to present at investor conference next week",
    "{c} schedules third-quarter results release for {d} May",
    "{c} appoints {p} as chief financial officer",
    "{c} completes previously announced debt refinancing",
    "{c} board declares regular quarterly dividend",
    "{c} files annual report with regulators",
    "{c} says it will hold its annual general meeting on {d} June",
    "{c} opens new regional office in Frankfurt",
    "${t} trading volume in line with 30-day average",
    "{c} publishes sustainability report for 2025",
    "Fed officials to speak at central bank symposium this week",
    "Treasury yields little changed ahead of inflation data",
    "European shares open flat as investors await earnings",
]
POSITIVE = [
    "{c} beats profit estimates and raises full-year guidance",
    "{c} shares jump {n}% after record quarterly revenue",
    "Analyst upgrades {c} to Buy, lifts price target",
    "{c} wins multiyear supply contract with major carmaker",
    "${t} rallies after strong subscriber growth",
    "{c} net sales increased {n}% to EUR {m} million",
    "{c} announces $2 billion share buyback",
    "{c} operating loss narrowed sharply in the second quarter",
]
NEGATIVE = [
    "{c} shares slide {n}% after profit warning",
    "{c} misses revenue estimates as demand weakens",
    "Analyst downgrades {c} to Sell on margin pressure",
    "{c} cuts full-year outlook, citing weak orders",
    "${t} falls after regulator opens investigation",
    "{c} to lay off {n}00 workers as sales decline",
]
EPISODE = [
    "Acme Corp shares plunge {n}% as auditor raises going-concern doubts",
    "Acme Corp faces fraud probe over accounting irregularities",
    "Acme Corp CFO resigns amid accounting investigation",
    "$ACME crashes after lenders refuse to extend credit line",
    "Acme Corp downgraded to junk by two rating agencies",
    "Acme Corp suspends dividend and warns of covenant breach",
    "Acme Corp bondholders hire advisers as default risk mounts",
    "Acme Corp delays quarterly report, shares halted",
    "Acme Corp hit with class action lawsuit from investors",
    "Regulators widen probe into Acme Corp's revenue recognition",
]
PEOPLE = ["Maria Lindqvist", "James Okafor", "Sofia Marin", "Daniel Reyes", "Anna Berg"]


def article(rng: random.Random, when: datetime, tmpl: str, company: tuple[str, str]) -> dict:
    c, t = company
    title = tmpl.format(
        c=c,
        t=t,
        n=rng.randint(2, 19),
        m=rng.randint(20, 900),
        d=rng.randint(2, 28),
        p=rng.choice(PEOPLE),
    )
    src = rng.choice(SOURCES)
    return {
        "id": f"{src}-{when:%Y%m%d%H%M%S}-{rng.randrange(10**6):06d}",
        "title": title,
        "body": f"<p>{title}.</p><p>The company said more details would follow.</p>",
        "url": f"https://news.example.com/{src}/{rng.randrange(10**9)}",
        "source": src,
        "lang": "en",
        "published_at": when.isoformat(),
        "tickers": [t] if rng.random() < 0.5 else [],
    }


def main() -> None:
    rng = random.Random(20261124)
    end = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    start = end - timedelta(days=4)
    out: list[dict] = []
    t = start
    while t < end:
        t += timedelta(seconds=rng.expovariate(1 / 120))  # ~30 articles an hour
        r = rng.random()
        tmpl = rng.choice(NEUTRAL if r < 0.6 else POSITIVE if r < 0.82 else NEGATIVE)
        out.append(article(rng, t, tmpl, rng.choice(COMPANIES)))
    # the planted episode: the story breaks in the last 11 minutes — bad news about Acme far
    # above its usual volume, running up to the newest article, so the detector's next closed
    # 15-minute window holds all of it and its baseline none of it (as when ticking live)
    ep_start = end - timedelta(minutes=11)
    for i in range(38):
        when = ep_start + timedelta(seconds=i * 17 + rng.randint(0, 10))
        out.append(article(rng, when, rng.choice(EPISODE), COMPANIES[0]))
    out.sort(key=lambda a: a["published_at"])
    lines = [json.dumps(a) for a in out]
    # dirt: duplicates re-sent by the crawler, a message without an id, malformed lines
    for i in (10, 200, 900):
        lines.insert(i + 5, lines[i])
    no_id = dict(out[50])
    no_id.pop("id")
    no_id["title"] = "Globex reports steady quarter"
    lines.insert(60, json.dumps(no_id))
    lines.insert(120, '{"title": "truncated message", "published_at": ')
    lines.insert(400, json.dumps({"id": "x-empty", "source": "reuters"}))
    lines.insert(700, json.dumps(["not", "an", "object"]))
    path = Path(__file__).resolve().parents[1] / "pipeline" / "sample" / "news_sample.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {path}")


if __name__ == "__main__":
    main()
