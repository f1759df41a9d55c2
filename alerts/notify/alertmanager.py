"""Forwarding to an existing Prometheus Alertmanager: POST /api/v2/alerts.

Firing alerts are posted with `endsAt` a day ahead and re-posted by the route's repeats (keep
`repeat_interval` below a day for such a channel); a resolved alert is posted with `endsAt` set
to when it resolved, which resolves it in Alertmanager at once.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from alerts.notify.base import Message, post
from ioc.config.channels import AlertmanagerChannel

FIRING_TTL = timedelta(hours=24)
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class AlertmanagerPayload:
    alerts: list[dict[str, Any]]


def _label_name(name: str) -> str:
    clean = _BAD_NAME.sub("_", name)
    return clean if clean and not clean[0].isdigit() else f"_{clean}"


def am_alert(ev: Mapping[str, Any], sent_at: datetime, public_url: str) -> dict[str, Any]:
    """One Alertmanager alert from one of our events."""
    labels = {_label_name(k): str(v) for k, v in ev["labels"].items() if str(v) != ""}
    labels.update({"alertname": ev["rule_id"], "severity": ev["severity"],
                   "ioc_fingerprint": ev["fingerprint"]})
    ends = ev["resolved_at"] if ev["status"] == "resolved" else \
        (sent_at + FIRING_TTL).isoformat()
    alert = {"labels": labels,
             "annotations": {k: str(v) for k, v in ev["annotations"].items()},
             "startsAt": ev["firing_at"] or ev["started_at"], "endsAt": ends}
    if public_url:
        alert["generatorURL"] = f"{public_url.rstrip('/')}/alerts/{ev['fingerprint']}"
    return alert


class Alertmanager:
    """Notifier for `alertmanager` channels."""

    def __init__(self, channel: AlertmanagerChannel, session: aiohttp.ClientSession) -> None:
        self.channel = channel
        self.session = session

    def render(self, message: Message) -> AlertmanagerPayload:
        return AlertmanagerPayload([am_alert(ev, message.sent_at, message.public_url)
                                    for ev in message.events])

    async def send(self, payload: AlertmanagerPayload, message: Message) -> None:
        headers = {"Content-Type": "application/json"}
        secrets: list[str] = []
        if self.channel.username is not None and self.channel.password is not None:
            password = self.channel.password.get_secret_value()
            token = base64.b64encode(f"{self.channel.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            secrets += [password, token]
        body = json.dumps(payload.alerts, ensure_ascii=False).encode()
        await post(self.session, self.channel.url.rstrip("/") + "/api/v2/alerts", body,
                   headers=headers, limit_s=self.channel.timeout.total_seconds(),
                   secrets=secrets)
