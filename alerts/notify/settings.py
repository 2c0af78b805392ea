"""Notification settings: the channels and the delivery policy, as frozen pydantic models.

Plain models that read no environment of their own: the application's ``Settings`` nests
:class:`NotifySettings` (``[notify]`` with ``[[notify.channels]]`` tables in TOML) and passes it
down. Every credential is a ``SecretStr`` — the Slack incoming-webhook URL too,
because whoever holds it can post to the channel — and ``hide_input_in_errors`` keeps rejected
values out of validation errors, so a secret reaches neither a log line, a ``repr``, an
exception nor the outbox's ``last_error``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Event = Literal["firing", "repeat", "resolved"]
EVENTS: tuple[Event, ...] = ("firing", "repeat", "resolved")

# Headers the webhook channel computes itself; configured headers may not override them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "idempotency-key",
        "x-finsentry-event",
        "x-finsentry-signature",
        "x-finsentry-timestamp",
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class _Channel(_Frozen):
    name: str = Field(
        min_length=1,
        max_length=60,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="the channel's name: idempotency keys and the outbox refer to it",
    )
    # Which alert events this channel receives (see NotifySettings.channels_for).
    events: frozenset[Event] = frozenset(EVENTS)


class LogChannel(_Channel):
    """One line of JSON per notification, to the ``finsentry.notify`` logger or a stream."""

    type: Literal["log"] = "log"
    target: Literal["log", "stdout", "stderr"] = Field(
        default="log", description="the finsentry.notify logger, or stdout/stderr directly"
    )


class WebhookChannel(_Channel):
    """A JSON POST signed with HMAC-SHA256 when ``secret`` is set."""

    type: Literal["webhook"] = "webhook"
    url: str = Field(description="http(s) URL the JSON is POSTed to")
    secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key; the signature goes in X-Finsentry-Signature"
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="seconds per request")
    # Values are secrets too (``Authorization: Bearer …`` is the usual reason to set one).
    headers: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, SecretStr]) -> dict[str, SecretStr]:
        clash = sorted(h for h in v if h.lower() in RESERVED_HEADERS)
        if clash:
            raise ValueError(f"headers set by finsentry itself can't be configured: {clash}")
        return v


class SlackChannel(_Channel):
    """A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat …)."""

    type: Literal["slack"] = "slack"
    webhook_url: SecretStr = Field(description="the incoming-webhook URL (a secret: it can post)")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="seconds per request")
    max_articles: int = Field(
        default=3, ge=0, le=10, description="top negative headlines shown in the message"
    )

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: SecretStr) -> SecretStr:
        _http_url(v.get_secret_value())
        return v


class EmailChannel(_Channel):
    """SMTP through the standard library: plain, STARTTLS or implicit TLS, optional login."""

    type: Literal["email"] = "email"
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    starttls: bool = False  # upgrade a plain connection with STARTTLS
    ssl: bool = False  # implicit TLS (usually port 465)
    username: str | None = None  # login, with password
    password: SecretStr | None = None  # login password
    from_addr: str = Field(min_length=3, description="From: address")
    to_addrs: list[str] = Field(min_length=1, description="recipients")
    timeout_s: float = Field(default=20.0, gt=0, le=300, description="seconds per connection")

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannel:
        if self.starttls and self.ssl:
            raise ValueError("choose starttls (upgrade a plain connection) or ssl, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


ChannelSettings = Annotated[
    LogChannel | WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")
]


class NotifySettings(_Frozen):
    """The configured channels and the outbox's delivery policy.

    A failed delivery is retried after ``min(backoff_base_s · 2^(n−1), backoff_max_s)`` plus a
    random jitter of up to ``backoff_base_s`` seconds, where ``n`` is the attempt that failed;
    after ``max_attempts`` attempts (or at once on a permanent error) the row is ``dead``.
    ``claim_timeout_s`` is how long a claimed row stays invisible to other deliverers: a process
    that dies mid-send leaves it claimed, and it becomes due again after this long.
    """

    channels: list[ChannelSettings] = Field(
        default_factory=list, description="where notifications go: see [[notify.channels]] below"
    )
    max_attempts: int = Field(
        default=8, ge=1, le=100, description="attempts before a notification is dead"
    )
    backoff_base_s: float = Field(
        default=30.0, gt=0, description="first retry delay; doubles per attempt, plus jitter"
    )
    backoff_max_s: float = Field(default=3600.0, gt=0, description="longest retry delay")
    batch_size: int = Field(
        default=50, ge=1, le=10_000, description="notifications claimed per delivery run"
    )
    claim_timeout_s: float = Field(
        default=300.0, gt=0, description="a claimed row is due again after this (crash safety)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> NotifySettings:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique: {dupes}")
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be at least backoff_base_s")
        slowest = max((getattr(c, "timeout_s", 0.0) for c in self.channels), default=0.0)
        if self.claim_timeout_s <= 2 * slowest:
            raise ValueError("claim_timeout_s must exceed twice the slowest channel timeout")
        return self

    def channels_for(self, event: Event) -> list[str]:
        """Names of the channels that receive ``event``: what the lifecycle passes to enqueue."""
        return [c.name for c in self.channels if event in c.events]
