"""Helpers of the alert tests: a scriptable loopback receiver, config building, probe rows."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from psycopg import AsyncConnection

from ioc.config.model import ProvinceConfig

SECRET = "test-secret-key-0123456789abcdef"
PROVINCE = {"name": "Tỉnh Thử Nghiệm", "code": "TN", "public_url": "http://127.0.0.1:8080"}


def make_config(**sections: Any) -> ProvinceConfig:
    """A validated config with a province and the given sections."""
    return ProvinceConfig.model_validate({"province": PROVINCE, **sections})


def write_config(directory: Path, **sections: Any) -> Path:
    """A config directory as the processes read it, one file per section (JSON is YAML)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in {"province": PROVINCE, **sections}.items():
        (directory / f"{name}.yaml").write_text(json.dumps({name: data}, ensure_ascii=False))
    return directory


def webhook(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "webhook", "url": url, "hmac_secret": "hook-secret-1",
            **extra}


def down_rule(rule_id: str = "target-down", **extra: Any) -> dict[str, Any]:
    """Fires when the last probe of a target in the last minute failed."""
    return {"id": rule_id, "kind": "threshold", "name": "Dịch vụ không phản hồi",
            "severity": "critical", "probe": "success_rate", "aggregate": "last",
            "window": "1m", "op": "<", "value": 1, "interval": "1s",
            "annotations": {"summary": "{{ labels.target }} không phản hồi"}, **extra}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers with `status`."""

    status: int = 200
    answer: str = '{"ok": true}'
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Request(request.path, dict(request.headers), body, self.status))
        return web.Response(status=self.status, text=self.answer,
                            content_type="application/json")

    def accepted(self, prefix: str = "") -> list[Request]:
        """Requests answered 2xx, optionally only those under a path prefix."""
        return [r for r in self.requests if r.status < 300 and r.path.startswith(prefix)]

    def events(self, prefix: str = "") -> list[dict[str, Any]]:
        """Alert events in the accepted webhook bodies."""
        return [ev for r in self.accepted(prefix) for ev in r.json()["alerts"]]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> None:
        """Wait (real time) until predicate() holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("timed out waiting for the receiver")
            await asyncio.sleep(0.05)


async def add_target(conn: AsyncConnection[Any], target: str, system: str = "portal",
                     labels: dict[str, str] | None = None) -> None:
    await conn.execute(
        "INSERT INTO targets (id, system, kind, name, labels, interval_s)"
        " VALUES (%s, %s, 'http', %s, %s, 10) ON CONFLICT (id) DO NOTHING",
        (target, system, target, json.dumps(labels or {})))


async def probe(conn: AsyncConnection[Any], target: str, at: datetime, ok: bool,
                duration_ms: float = 120.0) -> None:
    """One probe result, as the collectors write it (with its rollup minute marked dirty)."""
    await conn.execute(
        "INSERT INTO probe_results (time, target_id, ok, reason, duration_ms)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (at, target, ok, None if ok else "refused", duration_ms))
    minute = at.replace(second=0, microsecond=0)
    await conn.execute("INSERT INTO rollup_dirty (source, minute) VALUES ('probe', %s)"
                       " ON CONFLICT DO NOTHING", (minute,))


def ticks(start: datetime, count: int, step: timedelta) -> list[datetime]:
    return [start + i * step for i in range(count)]
