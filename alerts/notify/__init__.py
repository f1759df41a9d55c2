"""Notifiers, one per channel kind, in one explicit registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

from alerts.notify.alertmanager import Alertmanager
from alerts.notify.base import Message, Notifier, TransportError
from alerts.notify.email import Email
from alerts.notify.telegram import Telegram
from alerts.notify.webhook import Webhook

NOTIFIERS: dict[str, Callable[[Any, aiohttp.ClientSession], Notifier]] = {
    "webhook": Webhook,
    "email": Email,
    "telegram": Telegram,
    "alertmanager": Alertmanager,
}

__all__ = ["NOTIFIERS", "Message", "Notifier", "TransportError"]
