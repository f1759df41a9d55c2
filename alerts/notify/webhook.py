"""Webhook: a JSON POST signed with HMAC-SHA256, carrying an idempotency key.

Headers: `Idempotency-Key` (the same on every retry of a message, so a receiver can drop
duplicates), `X-IOC-Signature: sha256=<hex HMAC of the exact body>` when a secret is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from alerts.notify.base import Message, post
from alerts.notify.text import title
from ioc.config.channels import WebhookChannel


@dataclass(frozen=True)
class WebhookPayload:
    body: bytes
    headers: dict[str, str]


def signature(secret: str, body: bytes) -> str:
    """The X-IOC-Signature header value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook:
    """Notifier for `webhook` channels."""

    def __init__(self, channel: WebhookChannel, session: aiohttp.ClientSession) -> None:
        self.channel = channel
        self.session = session

    def _secrets(self) -> list[str]:
        found = [v.get_secret_value() for v in self.channel.headers.values()]
        if self.channel.hmac_secret is not None:
            found.append(self.channel.hmac_secret.get_secret_value())
        return found

    def render(self, message: Message) -> WebhookPayload:
        doc: dict[str, Any] = {
            "version": "1", "idempotency_key": message.key, "channel": message.channel,
            "status": message.status, "title": title(message),
            "sent_at": message.sent_at.isoformat(),
            "alerts": [{**ev, "ack_url": message.ack_urls.get(ev["fingerprint"])}
                       for ev in message.events],
        }
        body = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": message.key, "User-Agent": "ioc-alerts/1"}
        headers.update({k: v.get_secret_value() for k, v in self.channel.headers.items()})
        if self.channel.hmac_secret is not None:
            headers["X-IOC-Signature"] = signature(self.channel.hmac_secret.get_secret_value(),
                                                   body)
        return WebhookPayload(body, headers)

    async def send(self, payload: WebhookPayload, message: Message) -> None:
        await post(self.session, self.channel.url, payload.body, headers=payload.headers,
                   limit_s=self.channel.timeout.total_seconds(), secrets=self._secrets())
