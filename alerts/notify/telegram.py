"""Telegram: `sendMessage` of the Bot API, HTML formatted, to the channel's chat or a person's.

The bot token is part of the request URL, so nothing built from the URL or the client
library's exception text ever reaches an error message.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from alerts.notify.base import Message, post
from alerts.notify.text import event_lines, event_title, title, words
from ioc.config.channels import TelegramChannel

MAX_TEXT = 4096  # the Bot API's limit for one message


@dataclass(frozen=True)
class TelegramPayload:
    body: dict[str, Any]


def message_text(message: Message) -> str:
    """The HTML text of a message (Telegram's subset: <b>, <a>, <i>)."""
    w = words(message.language)
    parts = [f"<b>{html.escape(title(message))}</b>"] if len(message.events) > 1 else []
    for ev in message.events:
        lines = [f"<b>{html.escape(event_title(ev, message.language))}</b>"]
        lines += [f"{html.escape(k)}: {html.escape(v)}"
                  for k, v in event_lines(ev, message.language)]
        description = ev["annotations"].get("description")
        if description:
            lines.append(f"<i>{html.escape(description)}</i>")
        url = message.ack_urls.get(ev["fingerprint"])
        if url:
            lines.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(w["ack"])}</a>')
        parts.append("\n".join(lines))
    text = "\n\n".join(parts)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


class Telegram:
    """Notifier for `telegram` channels."""

    def __init__(self, channel: TelegramChannel, session: aiohttp.ClientSession) -> None:
        self.channel = channel
        self.session = session

    def render(self, message: Message) -> TelegramPayload:
        return TelegramPayload({"chat_id": message.recipient or self.channel.chat_id,
                                "text": message_text(message), "parse_mode": "HTML",
                                "disable_web_page_preview": True})

    async def send(self, payload: TelegramPayload, message: Message) -> None:
        token = self.channel.bot_token.get_secret_value()
        url = f"{self.channel.api_base_url.rstrip('/')}/bot{token}/sendMessage"
        body = json.dumps(payload.body, ensure_ascii=False).encode()
        await post(self.session, url, body,
                   headers={"Content-Type": "application/json; charset=utf-8"},
                   limit_s=self.channel.timeout.total_seconds(), secrets=[token])
