"""The Slack-compatible incoming-webhook channel: ``{"text": …, "blocks": […]}``.

``text`` is the fallback shown in notifications and by clients without Block Kit (Mattermost
and Rocket.Chat read it); the blocks carry a readable summary: the key, observed against
baseline negative share, lift, p-value, the window, and the top negative headlines with the
words that drove them — or, for ``resolved``, that the key is back to normal. The incoming
webhook URL is the credential: it is a ``SecretStr`` and is masked in httpx's request log.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.notify._http import post_json, register_secrets
from alerts.notify.message import NotificationMessage, num, pct, when
from alerts.notify.settings import SlackChannel

EMOJI = {"firing": ":rotating_light:", "repeat": ":warning:", "resolved": ":white_check_mark:"}


def _esc(text: str) -> str:
    """Slack mrkdwn escaping: only ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: NotificationMessage, max_articles: int = 3) -> dict[str, Any]:
    """The JSON document for one message (Block Kit, within Slack's size limits)."""
    m = message
    emoji = EMOJI.get(m.event, ":bell:")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(m.headline, 150), "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_esc(m.summary), 3000)}},
    ]
    if m.event != "resolved":
        fields = [
            ("Key", f"`{_esc(m.series_key)}`"),
            ("Negative share", f"{pct(m.observed_share)} (baseline {pct(m.baseline_share)})"),
            ("Lift", f"{num(m.lift)}×"),
            ("p-value", num(m.p_value, ".2g")),
            ("Window", f"{when(m.window_start)} – {when(m.window_end)}"),
            (
                "Articles",
                f"{m.n_neg if m.n_neg is not None else 'n/a'} negative of "
                f"{m.n if m.n is not None else 'n/a'}",
            ),
        ]
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
            }
        )
        articles = m.top_articles[:max_articles]
        if articles:
            lines = []
            for a in articles:
                words = f" — _{_esc(a.words)}_" if a.explanation else ""
                lines.append(f"• {_esc(_cut(a.title, 300))}{words}")
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": _cut("*Top negative headlines*\n" + "\n".join(lines), 3000),
                    },
                }
            )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _esc(f"finsentry alert #{m.alert_id} · {m.idempotency_key}"),
                }
            ],
        }
    )
    return {"text": f"{emoji} {_esc(m.headline)}: {_esc(m.summary)}", "blocks": blocks}


class SlackNotifier:
    """POSTs :func:`slack_payload` to the incoming webhook."""

    def __init__(self, settings: SlackChannel) -> None:
        self.name = settings.name
        self._settings = settings
        self._url = settings.webhook_url.get_secret_value()
        register_secrets([self._url])

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self.name!r})"

    def send(self, message: NotificationMessage) -> None:
        payload = slack_payload(message, self._settings.max_articles)
        post_json(
            channel=self.name,
            url=self._url,
            body=json.dumps(payload, ensure_ascii=False).encode(),
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": message.idempotency_key,
            },
            timeout_s=self._settings.timeout_s,
            secrets=[self._url],
        )
