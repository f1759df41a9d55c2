"""Notifiers, one per channel kind, in one explicit registry."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
from psycopg import AsyncConnection

from alerts.notify.alertmanager import Alertmanager
from alerts.notify.base import Message, Notifier, TransportError
from alerts.notify.email import Email
from alerts.notify.telegram import Telegram
from alerts.notify.webhook import Webhook
from alerts.notify.zalo import TokenStore, Zalo
from ioc.config.channels import ZaloOAChannel, ZaloZNSChannel

NOTIFIERS: dict[str, Callable[[Any, aiohttp.ClientSession], Notifier]] = {
    "webhook": Webhook,
    "email": Email,
    "telegram": Telegram,
    "alertmanager": Alertmanager,
    "zalo_oa": Zalo,
    "zalo_zns": Zalo,
}


def make_notifiers(channels: Iterable[Any], session: aiohttp.ClientSession,
                   conn: AsyncConnection[Any], secret: str) -> dict[str, Notifier]:
    """The notifier of each channel; Zalo's keep their renewed tokens through `conn`."""
    store = TokenStore(conn, secret)
    return {c.name: Zalo(c, session, store) if isinstance(c, ZaloOAChannel | ZaloZNSChannel)
            else NOTIFIERS[c.kind](c, session) for c in channels}


__all__ = ["NOTIFIERS", "Message", "Notifier", "TransportError", "make_notifiers"]
