"""Webhook: a JSON POST signed with HMAC-SHA256 over a timestamp and the body, carrying an
idempotency key.

Headers: `Idempotency-Key` (the same on every retry of a message, so a receiver can drop
duplicates) and, when the channel has an `hmac_secret`,
`X-IOC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<exact body>">`, as Stripe and
Slack sign theirs. Each attempt is signed afresh at its send time. A receiver checks it with
`verify_signature` (or the same few lines in its own language, docs/CONTRACTS.md): the MAC
must match and `t` be within 5 minutes of its clock, so a captured request cannot be replayed
later; within those minutes the idempotency key identifies a replay as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from alerts.notify.base import Message, post
from alerts.notify.text import title
from ioc.config.channels import WebhookChannel


@dataclass(frozen=True)
class WebhookPayload:
    body: bytes
    headers: dict[str, str]


SIGNATURE_HEADER = "X-IOC-Signature"
TOLERANCE = timedelta(minutes=5)
"""How far a signature's timestamp may be from the receiver's clock, either way."""


class SignatureError(ValueError):
    """A webhook's signature is missing, malformed, stale or wrong (the message says which)."""


def _mac(secret: str, at: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def signature(secret: str, body: bytes, at: datetime) -> str:
    """The X-IOC-Signature header value for a body sent at `at`."""
    stamp = int(at.timestamp())
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify_signature(secret: str, header: str | None, body: bytes, now: datetime,
                     tolerance: timedelta = TOLERANCE) -> None:
    """Check an X-IOC-Signature header against the exact body received; raise SignatureError.

    Valid: a `t=` timestamp within `tolerance` of `now` and a `v1=` equal (compared in constant
    time) to HMAC-SHA256(secret, "<t>.<body>"). Several `v1=` values are allowed (any may
    match), so a sender can sign with an old and a new secret while a key is rotated.
    """
    if not header:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    stamps: list[str] = []
    macs: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            stamps.append(value)
        elif name == "v1":
            macs.append(value)
    if len(stamps) != 1 or not stamps[0].isdigit() or len(stamps[0]) > 12 or not macs:
        raise SignatureError(f"malformed {SIGNATURE_HEADER}: expected t=<unix>,v1=<hex>")
    at = int(stamps[0])
    skew = abs(now.timestamp() - at)
    if skew > tolerance.total_seconds():
        raise SignatureError(f"signature timestamp {skew:.0f} s away from now (tolerance "
                             f"{tolerance.total_seconds():.0f} s): stale, replayed or a clock "
                             "off")
    expected = _mac(secret, at, body)
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise SignatureError("signature does not match the body")


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
            headers[SIGNATURE_HEADER] = signature(self.channel.hmac_secret.get_secret_value(),
                                                  body, message.sent_at)
        return WebhookPayload(body, headers)

    async def send(self, payload: WebhookPayload, message: Message) -> None:
        await post(self.session, self.channel.url, payload.body, headers=payload.headers,
                   limit_s=self.channel.timeout.total_seconds(), secrets=self._secrets())
