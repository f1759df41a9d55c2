"""What every notifier shares: the message it renders, the one error it raises, its protocol.

A notifier separates `render(message) -> payload` (pure, tested alone) from `send` (I/O). It
raises only `TransportError`, which says whether a retry can help; its text never holds a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import aiohttp


class TransportError(Exception):
    """A delivery failed. `permanent`: retrying cannot help (4xx, refused recipient, bad auth)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """One notification to one channel (and recipient): the grouped alert events it carries."""

    key: str
    channel: str
    recipient: str
    events: tuple[Mapping[str, Any], ...]
    ack_urls: Mapping[str, str]
    """fingerprint -> one-click acknowledgement link (firing events only)."""
    language: str
    sent_at: datetime
    public_url: str = ""

    @property
    def status(self) -> str:
        """'firing' when any event is firing, else 'resolved'."""
        return "firing" if any(e["status"] == "firing" for e in self.events) else "resolved"


class Notifier(Protocol):
    """Code that delivers messages to one configured channel."""

    def render(self, message: Message) -> Any:
        """The payload for this channel (pure: same message, same payload)."""

    async def send(self, payload: Any, message: Message) -> None:
        """Deliver the payload; raise TransportError on failure."""


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Text with every secret replaced (for error messages built from a server's answer)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def http_error(status: int, body: str, secrets: Iterable[str | None]) -> TransportError:
    """The error for an HTTP answer other than 2xx: 4xx is permanent except 408 and 429."""
    permanent = 400 <= status < 500 and status not in (408, 429)
    snippet = scrub(" ".join(body.split())[:200], secrets)
    return TransportError(f"HTTP {status}" + (f": {snippet}" if snippet else ""),
                          permanent=permanent)


def io_error(exc: BaseException) -> TransportError:
    """The error for a failure to talk to the server at all (always retried).

    Only the exception's type is kept: client library messages may quote the URL, and a
    Telegram URL holds the bot token.
    """
    if isinstance(exc, TimeoutError):
        return TransportError("timed out")
    return TransportError(f"connection failed ({type(exc).__name__})")


async def post(session: aiohttp.ClientSession, url: str, body: bytes, *,
               headers: Mapping[str, str], limit_s: float,
               secrets: Iterable[str | None]) -> str:
    """POST and return the answer's text; raise TransportError for anything but 2xx."""
    try:
        async with session.post(url, data=body, headers=dict(headers),
                                timeout=aiohttp.ClientTimeout(total=limit_s)) as resp:
            answer = await resp.text(errors="replace")
            if resp.status >= 300:
                raise http_error(resp.status, answer, secrets)
            return answer
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise io_error(exc) from None
