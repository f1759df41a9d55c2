"""Fixtures for the collector tests: scripted loopback servers and a shared HTTP client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from collectors.fetch import HttpClient
from tests.collectors.loopback import Loopback, raw_server, self_signed


@pytest.fixture
async def loopback() -> AsyncIterator[Loopback]:
    server = Loopback()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = HttpClient(limit=100)
    yield http
    await http.close()


@pytest.fixture
async def raw_ports() -> AsyncIterator[dict[str, int]]:
    servers = {name: await raw_server(name) for name in ("garbage", "reset")}
    yield {name: port for name, (_, port) in servers.items()}
    for server, _ in servers.values():
        server.close()
        await server.wait_closed()


@pytest.fixture
async def tls_url(tmp_path: Path) -> AsyncIterator[str]:
    """An https server on 127.0.0.1 with a self-signed certificate valid for 30 days."""
    app = web.Application()

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed(tmp_path, 30))
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}/"
    await runner.cleanup()


def write_config(directory: Path, targets: list[dict[str, object]]) -> Path:
    """A config directory with a province and these targets (YAML is a superset of JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "province.yaml").write_text(
        'province: {name: "Tỉnh Thử", code: T01}\n', encoding="utf-8")
    (directory / "targets.yaml").write_text(json.dumps({"targets": targets}, ensure_ascii=False),
                                            encoding="utf-8")
    return directory


def http_target(target_id: str, url: str, **fields: object) -> dict[str, object]:
    """A target entry of kind http with short interval and timeout."""
    return {"id": target_id, "kind": "http", "system": "portal", "name": target_id, "url": url,
            "interval": "1s", "timeout": "500ms", "jitter": "0s", **fields}
