"""The drill's webhook receiver on 127.0.0.1: records every delivery and its idempotency key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver accepted."""

    at: datetime
    key: str
    body: dict[str, Any]

    def events(self) -> list[dict[str, Any]]:
        """The alert events the message carries (fingerprint, status, labels ...)."""
        return list(self.body.get("alerts", []))


@dataclass
class Receiver:
    """Answers 200 to every POST and keeps it; `url` is set once started."""

    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        key = request.headers.get("Idempotency-Key", "")
        self.deliveries.append(Delivery(datetime.now(UTC), key, body))
        return web.json_response({"ok": True})

    def statuses(self) -> list[tuple[str, str]]:
        """(fingerprint, status) of every event received, in order."""
        return [(str(ev.get("fingerprint")), str(ev.get("status")))
                for d in self.deliveries for ev in d.events()]
