"""The email channel: one plain-text message per notification through the stdlib ``smtplib``.

Plain SMTP, STARTTLS (``starttls``) or implicit TLS (``ssl``), with certificate verification
from the system store, and an optional login. The ``Message-ID`` is derived from the idempotency
key, so a re-send after a crash carries the same id and mail clients thread or drop it as a
duplicate. SMTP replies map onto :class:`DeliveryError`: 4xx and dropped connections are
transient, 5xx, a refused login and a server without STARTTLS when it was asked for are
permanent. When the server accepts some recipients and refuses others the message counts as
delivered (retrying would mail the accepted ones again) and the refusals are logged.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from alerts.notify.base import DeliveryError, scrub
from alerts.notify.message import NotificationMessage
from alerts.notify.settings import EmailChannel

log = logging.getLogger(__name__)


def message_id(idempotency_key: str, from_addr: str) -> str:
    """``<hash-of-key@sender-domain>``: stable for a key, valid RFC 5322 whatever the key."""
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "finsentry.invalid"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


def build_email(message: NotificationMessage, settings: EmailChannel) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = message.subject
    msg["From"] = settings.from_addr
    msg["To"] = ", ".join(settings.to_addrs)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id(message.idempotency_key, settings.from_addr)
    msg["X-Finsentry-Event"] = message.event
    msg["X-Finsentry-Idempotency-Key"] = message.idempotency_key
    msg.set_content(message.text())
    return msg


def _addr(address: str) -> str:
    """The bare address for the SMTP envelope (``Name <a@b>`` → ``a@b``)."""
    return parseaddr(address)[1] or address


def _code_transient(code: int) -> bool:
    return 400 <= code < 500


class EmailNotifier:
    """Sends :meth:`NotificationMessage.text` with :attr:`NotificationMessage.subject`."""

    def __init__(self, settings: EmailChannel) -> None:
        self.name = settings.name
        self._settings = settings
        self._secrets = [settings.password.get_secret_value()] if settings.password else []

    def __repr__(self) -> str:
        return f"EmailNotifier(name={self.name!r})"

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.ssl:
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
            )
        return smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)

    def send(self, message: NotificationMessage) -> None:
        s = self._settings
        msg = build_email(message, s)
        try:
            with self._connect() as smtp:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username is not None and s.password is not None:
                    smtp.login(s.username, s.password.get_secret_value())
                refused = smtp.send_message(msg, _addr(s.from_addr), [_addr(a) for a in s.to_addrs])
        except smtplib.SMTPNotSupportedError as e:
            raise self._error(f"server does not support it: {e}", False) from self._cause(e)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            transient = all(_code_transient(c) for c in codes)
            raise self._error(f"all recipients refused {codes}", transient) from self._cause(e)
        except smtplib.SMTPResponseException as e:
            reply = e.smtp_error
            if isinstance(reply, bytes):
                reply = reply.decode(errors="replace")
            what = "login refused" if isinstance(e, smtplib.SMTPAuthenticationError) else "reply"
            raise self._error(
                f"{what} {e.smtp_code} {reply}", _code_transient(e.smtp_code)
            ) from self._cause(e)
        except ssl.SSLCertVerificationError as e:
            raise self._error(
                f"TLS certificate rejected: {e.verify_message}", False
            ) from self._cause(e)
        except (smtplib.SMTPException, OSError) as e:  # disconnects, refused, timeouts, DNS
            raise self._error(f"{type(e).__name__}: {e}", True) from self._cause(e)
        if refused:
            log.warning(
                "%s: %s accepted, refused %s", self.name, message.idempotency_key, sorted(refused)
            )

    def _cause(self, e: BaseException) -> BaseException | None:
        return e if scrub(str(e), self._secrets) == str(e) else None

    def _error(self, text: str, transient: bool) -> DeliveryError:
        text = " ".join(f"{self.name}: {text}".split())
        return DeliveryError(scrub(text, self._secrets)[:500], transient=transient)
