"""Channels against real endpoints: a local HTTP server verifies webhook signatures and reads
Slack payloads, aiosmtpd receives the email; and the settings keep every secret out of sight.

No database here (that is ``test_notify_outbox.py``): each test builds a message from a stored
payload the way the outbox does and calls the notifier directly.
"""

from __future__ import annotations

import json
import logging
import time
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from alerts.notify.base import DeliveryError
from alerts.notify.channels import build_notifier, build_notifiers
from alerts.notify.message import NotificationMessage, alert_payload
from alerts.notify.settings import (
    EmailChannel,
    LogChannel,
    NotifySettings,
    SlackChannel,
    WebhookChannel,
)
from alerts.notify.smtp import EmailNotifier, message_id
from alerts.notify.webhook import WebhookNotifier, sign, verify_signature
from tests.alerts.notify_fixtures import EVIDENCE, NOW, Receiver, free_port, smtp_server

SECRET = "whsec-7f3a9c-super-secret"
SLACK_TOKEN = "XoXoSlackToken1234567890"
PASSWORD = "pa55-w0rd-never-print"


def alert(status: str = "firing", evidence: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": 7,
        "fingerprint": "neg_spike:entity:ACME",
        "rule": "neg_spike",
        "series_key": "entity:ACME",
        "status": status,
        "started_at": NOW,
        "last_fired_at": NOW,
        "resolved_at": NOW if status == "resolved" else None,
        "acked_at": None,
        "evidence": EVIDENCE if evidence is None else evidence,
    }


def message(event: str = "firing", **kw: Any) -> NotificationMessage:
    status = "resolved" if event == "resolved" else "firing"
    return NotificationMessage.from_payload(
        idempotency_key=f"7:{event}:0:chan",
        event=event,
        alert_id=7,
        payload=alert_payload(alert(status, **kw)),
        created_at=NOW,
    )


# -- messages ---------------------------------------------------------------------------------


def test_message_reads_detection_evidence_and_renders_it() -> None:
    m = message()
    assert m.subject == "[finsentry] FIRING negative spike on entity:ACME"
    assert (m.observed_share, m.p_value, m.statistic) == (0.42, 1.2e-06, 4.87)
    text = m.text()
    for needle in ("42.0%", "12.0%", "3.50×", "1.2e-06", "21 negative", "cuts, slump", "probe"):
        assert needle in text
    assert "2026-03-02 14:00 UTC" in text
    assert message("resolved").summary.startswith("Negative sentiment on entity:ACME is back")


def test_message_tolerates_missing_evidence() -> None:
    m = NotificationMessage.from_payload(
        idempotency_key="1:firing:0:x", event="firing", alert_id=1, payload={}
    )
    assert "n/a" in m.text() and m.top_articles == ()
    odd = message(evidence={"share": "not a number", "top_articles": [{"title": "T"}, 3]})
    assert odd.observed_share is None and [a.title for a in odd.top_articles] == ["T"]
    assert "T" in odd.text()


# -- webhook ----------------------------------------------------------------------------------


def test_webhook_is_signed_and_the_receiver_verifies_it() -> None:
    with Receiver(secret=SECRET) as rx:
        settings = WebhookChannel.model_validate(
            {"name": "ops", "url": rx.url(), "secret": SECRET, "headers": {"Authorization": "B 42"}}
        )
        build_notifier(settings).send(message())
    (req,) = rx.requests
    assert req.signature_ok is True
    assert req.headers["idempotency-key"] == "7:firing:0:chan"
    assert req.headers["x-finsentry-event"] == "firing"
    assert req.headers["authorization"] == "B 42"
    ts = req.headers["x-finsentry-timestamp"]
    assert abs(int(ts) - time.time()) < 60
    assert verify_signature(SECRET, ts, req.body, req.headers["x-finsentry-signature"])
    assert not verify_signature(SECRET, ts, req.body + b" ", req.headers["x-finsentry-signature"])
    assert not verify_signature("other", ts, req.body, req.headers["x-finsentry-signature"])
    old = str(int(ts) - 3600)
    assert not verify_signature(SECRET, old, req.body, sign(SECRET, old, req.body))
    doc = req.json()
    assert doc["event"] == "firing" and doc["idempotency_key"] == "7:firing:0:chan"
    assert doc["alert"]["series_key"] == "entity:ACME"
    assert doc["evidence"]["top_articles"][0]["explanation"][0] == ["cuts", 0.52]


def test_webhook_without_secret_sends_no_signature() -> None:
    with Receiver() as rx:
        WebhookNotifier(WebhookChannel(name="ops", url=rx.url())).send(message())
    (req,) = rx.requests
    assert "x-finsentry-signature" not in req.headers
    assert req.json()["headline"] == "FIRING negative spike on entity:ACME"


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (503, True), (429, True), (408, True), (400, False), (404, False), (301, False)],
)
def test_webhook_status_classification(status: int, transient: bool) -> None:
    with Receiver(default=status, retry_after="17") as rx, pytest.raises(DeliveryError) as err:
        WebhookNotifier(WebhookChannel(name="ops", url=rx.url())).send(message())
    assert err.value.transient is transient
    assert f"HTTP {status}" in str(err.value)
    if status in (429, 503):
        assert err.value.retry_after_s == 17


def test_webhook_endpoint_down_is_transient() -> None:
    notifier = WebhookNotifier(WebhookChannel(name="ops", url=f"http://127.0.0.1:{free_port()}/"))
    with pytest.raises(DeliveryError) as err:
        notifier.send(message())
    assert err.value.transient and "ConnectError" in str(err.value)


# -- Slack ------------------------------------------------------------------------------------


def test_slack_payload_shape_through_a_real_endpoint() -> None:
    with Receiver() as rx:
        slack = build_notifier(
            SlackChannel(name="slack", webhook_url=SecretStr(rx.url("/services/T/B/x")))
        )
        slack.send(message())
        slack.send(message("resolved"))
    firing, resolved = (r.json() for r in rx.requests)
    assert rx.requests[0].path == "/services/T/B/x"
    assert set(firing) == {"text", "blocks"}
    assert "FIRING negative spike on entity:ACME" in firing["text"]
    types = [b["type"] for b in firing["blocks"]]
    assert types[0] == "header" and "context" in types
    assert firing["blocks"][0]["text"]["text"] == "FIRING negative spike on entity:ACME"
    flat = json.dumps(firing["blocks"], ensure_ascii=False)
    for needle in ("entity:ACME", "42.0%", "baseline 12.0%", "3.50×", "1.2e-06"):
        assert needle in flat
    assert "ACME cuts full-year guidance as orders slump" in flat and "cuts, slump" in flat
    assert "7:firing:0:chan" in flat
    assert "back to normal" in resolved["text"]
    assert resolved["blocks"][0]["text"]["text"] == "RESOLVED negative spike on entity:ACME"
    assert "42.0%" not in json.dumps(resolved["blocks"])


def test_slack_url_never_reaches_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver(default=500) as rx:
        url = rx.url(f"/services/T0/B0/{SLACK_TOKEN}")
        slack = build_notifier(SlackChannel(name="slack", webhook_url=SecretStr(url)))
        with pytest.raises(DeliveryError) as err:
            slack.send(message())
    down_url = f"http://127.0.0.1:{free_port()}/x/{SLACK_TOKEN}"
    down = SlackChannel(name="s2", webhook_url=SecretStr(down_url))
    with pytest.raises(DeliveryError) as err2:
        build_notifier(down).send(message())
    assert "HTTP Request: POST" in caplog.text  # httpx did log the request …
    assert SLACK_TOKEN not in caplog.text  # … with the URL masked
    for e in (err.value, err2.value):
        assert SLACK_TOKEN not in str(e) and SLACK_TOKEN not in repr(e)
        assert e.__cause__ is None or SLACK_TOKEN not in str(e.__cause__)


# -- email ------------------------------------------------------------------------------------


def parse(raw: bytes | str | None) -> Message:
    assert isinstance(raw, bytes)
    return message_from_bytes(raw)


def test_email_reaches_a_real_smtp_server() -> None:
    with smtp_server() as (port, box):
        settings = EmailChannel(
            name="mail",
            host="127.0.0.1",
            port=port,
            from_addr="finsentry <alerts@example.org>",
            to_addrs=["risk@example.org", "desk@example.org"],
        )
        notifier = build_notifier(settings)
        notifier.send(message())
        notifier.send(message())  # a re-send after a crash: same Message-ID
    first, second = box.envelopes
    assert first.rcpt_tos == ["risk@example.org", "desk@example.org"]
    assert first.mail_from == "alerts@example.org"
    mail = parse(first.original_content)
    assert mail["Subject"] == "[finsentry] FIRING negative spike on entity:ACME"
    assert mail["Message-ID"] == message_id("7:firing:0:chan", settings.from_addr)
    assert mail["Message-ID"].endswith("@example.org>")
    assert parse(second.original_content)["Message-ID"] == mail["Message-ID"]
    assert mail["X-Finsentry-Idempotency-Key"] == "7:firing:0:chan"
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    for needle in ("42.0% observed vs 12.0% baseline", "3.50×", "ACME cuts full-year guidance"):
        assert needle in text


def test_email_login_and_refusals(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with smtp_server(login=("finsentry", PASSWORD)) as (port, box):
        base: dict[str, Any] = {
            "name": "mail",
            "host": "127.0.0.1",
            "port": port,
            "from_addr": "alerts@example.org",
            "to_addrs": ["risk@example.org"],
        }
        ok = EmailChannel.model_validate({**base, "username": "finsentry", "password": PASSWORD})
        EmailNotifier(ok).send(message("resolved"))
        assert len(box.envelopes) == 1
        assert parse(box.envelopes[0].original_content)["Subject"].startswith("[finsentry] RES")

        bad = EmailChannel.model_validate(
            {**base, "username": "finsentry", "password": PASSWORD + "x"}
        )
        with pytest.raises(DeliveryError) as err:
            EmailNotifier(bad).send(message())
        assert not err.value.transient and "535" in str(err.value)
        assert PASSWORD not in str(err.value)

        tls = EmailChannel.model_validate({**base, "starttls": True})
        with pytest.raises(DeliveryError) as err:
            EmailNotifier(tls).send(message())
        assert not err.value.transient and "STARTTLS" in str(err.value).upper()
    assert PASSWORD not in caplog.text

    down = EmailChannel.model_validate({**base, "port": free_port()})
    with pytest.raises(DeliveryError) as err:
        EmailNotifier(down).send(message())
    assert err.value.transient


# -- log --------------------------------------------------------------------------------------


def test_log_channel_writes_one_json_line(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger="finsentry.notifications")
    build_notifier(LogChannel(name="log")).send(message())
    (record,) = [r for r in caplog.records if r.name == "finsentry.notifications"]
    assert record.levelno == logging.WARNING
    assert json.loads(record.getMessage())["headline"] == "FIRING negative spike on entity:ACME"
    build_notifier(LogChannel(name="out", target="stdout")).send(message("resolved"))
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["event"] == "resolved"


# -- settings ---------------------------------------------------------------------------------


def settings_doc() -> dict[str, Any]:
    return {
        "channels": [
            {"type": "log", "name": "log"},
            {
                "type": "webhook",
                "name": "ops",
                "url": "https://ops.example.org/hook",
                "secret": SECRET,
                "headers": {"Authorization": "Bearer hdr-secret-99"},
            },
            {
                "type": "slack",
                "name": "slack",
                "webhook_url": f"https://hooks.slack.com/services/T/B/{SLACK_TOKEN}",
                "events": ["firing", "resolved"],
            },
            {
                "type": "email",
                "name": "mail",
                "host": "smtp.example.org",
                "port": 587,
                "starttls": True,
                "username": "finsentry",
                "password": PASSWORD,
                "from_addr": "alerts@example.org",
                "to_addrs": ["risk@example.org"],
            },
        ],
        "max_attempts": 5,
    }


def test_settings_parse_and_hide_every_secret() -> None:
    s = NotifySettings.model_validate(settings_doc())
    assert [type(c).__name__ for c in s.channels] == [
        "LogChannel",
        "WebhookChannel",
        "SlackChannel",
        "EmailChannel",
    ]
    assert (s.max_attempts, s.backoff_base_s, s.backoff_max_s) == (5, 30.0, 3600.0)
    assert s.channels_for("repeat") == ["log", "ops", "mail"]
    assert s.channels_for("resolved") == ["log", "ops", "slack", "mail"]
    notifiers = build_notifiers(s)
    shown = " ".join([repr(s), str(s), s.model_dump_json(), repr(notifiers)])
    for secret in (SECRET, SLACK_TOKEN, PASSWORD, "hdr-secret-99"):
        assert secret not in shown
    with pytest.raises(ValidationError):
        s.max_attempts = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (
            {"channels": [{"type": "slack", "name": "s", "webhook_url": f"ftp://{SLACK_TOKEN}"}]},
            "http",
        ),
        ({"channels": [{"type": "log", "name": "a"}, {"type": "log", "name": "a"}]}, "unique"),
        ({"channels": [{"type": "pager", "name": "p"}]}, "type"),
        (
            {
                "channels": [
                    {
                        "type": "webhook",
                        "name": "w",
                        "url": "https://x.org",
                        "headers": {"Idempotency-Key": "k"},
                    }
                ]
            },
            "set by finsentry",
        ),
        (
            {"channels": [{**settings_doc()["channels"][3], "ssl": True}]},
            "not both",
        ),
        ({"backoff_base_s": 60, "backoff_max_s": 10}, "backoff_max_s"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_settings_reject_bad_config_without_echoing_it(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        NotifySettings.model_validate(change)
    assert needle in str(err.value)
    assert SLACK_TOKEN not in str(err.value) and PASSWORD not in str(err.value)


def test_nested_settings_hide_secrets_when_the_outer_model_hides_input() -> None:
    """pydantic applies the *outermost* model's ``hide_input_in_errors``: the application's
    ``Settings`` that nests ``NotifySettings`` must set it too (``alerts/README.md`` says so)."""

    class AppSettings(BaseModel):
        model_config = ConfigDict(frozen=True, hide_input_in_errors=True)
        notify: NotifySettings = NotifySettings()

    bad = {"type": "slack", "name": "s", "webhook_url": f"ftp://x/{SLACK_TOKEN}"}
    with pytest.raises(ValidationError) as err:
        AppSettings.model_validate({"notify": {"channels": [bad]}})
    assert "webhook_url" in str(err.value) and SLACK_TOKEN not in str(err.value)
