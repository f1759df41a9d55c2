"""E-mail through SMTP (STARTTLS, SSL or a plain local relay), Vietnamese text by default.

The Message-ID is derived from the idempotency key, so a mail system or a person's client that
sees the same message twice can tell.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime
from importlib import resources
from typing import Any

from jinja2 import Environment

from alerts.notify.base import Message, TransportError, io_error
from alerts.notify.text import event_lines, event_title, title, words
from ioc.config.channels import EmailChannel
from ioc.smtp import connect_smtp

_TEMPLATE = Environment(autoescape=False, keep_trailing_newline=True).from_string(  # noqa: S701 - plain text
    resources.files("alerts.notify").joinpath("email.txt.j2").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class EmailPayload:
    message: MIMEText
    recipients: tuple[str, ...]


def body_text(message: Message) -> str:
    """The plain-text body of an alert e-mail."""
    events = [{"title": event_title(ev, message.language),
               "lines": event_lines(ev, message.language),
               "description": ev["annotations"].get("description", ""),
               "ack_url": message.ack_urls.get(ev["fingerprint"], "")}
              for ev in message.events]
    return _TEMPLATE.render(events=events, w=words(message.language))


class Email:
    """Notifier for `email` channels."""

    def __init__(self, channel: EmailChannel, session: Any = None) -> None:
        self.channel = channel

    def render(self, message: Message) -> EmailPayload:
        recipients = (message.recipient,) if message.recipient else tuple(self.channel.to)
        # compat32 MIMEText + Header: the default policy folds a long Vietnamese subject into
        # encoded words that drop the space at each fold (readers show "Nộphồ sơ")
        mail = MIMEText(body_text(message), "plain", "utf-8")
        mail["Subject"] = Header(title(message), "utf-8")  # type: ignore[assignment]
        mail["From"] = self.channel.from_
        mail["To"] = ", ".join(recipients)
        mail["Date"] = format_datetime(message.sent_at)
        digest = hashlib.sha256(message.key.encode()).hexdigest()[:32]
        mail["Message-ID"] = f"<{digest}@ioc.alerts>"
        mail["X-IOC-Idempotency-Key"] = message.key
        return EmailPayload(mail, recipients)

    async def send(self, payload: EmailPayload, message: Message) -> None:
        if not payload.recipients:
            raise TransportError("no recipients: set `to` on the channel", permanent=True)
        await asyncio.to_thread(self._send_blocking, payload)

    def _send_blocking(self, payload: EmailPayload) -> None:
        try:
            with connect_smtp(self.channel) as smtp:
                smtp.send_message(payload.message, to_addrs=list(payload.recipients))
        except smtplib.SMTPRecipientsRefused:
            raise TransportError("every recipient was refused", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            # 5xx: the server will say the same next time; 4xx: try again later
            raise TransportError(f"SMTP {exc.smtp_code} ({type(exc).__name__})",
                                 permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise io_error(exc) from None
