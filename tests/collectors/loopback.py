"""Scripted servers on 127.0.0.1 that answer slowly, wrongly or not at all."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

METRICS_TEXT = """# HELP portal_requests_total Requests served.
# TYPE portal_requests_total counter
portal_requests_total{route="/api/search",code="200"} 1027
portal_requests_total{route="/api/search",code="500"} 3
# HELP portal_queue_depth Dossiers waiting.
# TYPE portal_queue_depth gauge
portal_queue_depth 12
# TYPE portal_latency_seconds histogram
portal_latency_seconds_bucket{le="0.1"} 5
portal_latency_seconds_bucket{le="+Inf"} 7
portal_latency_seconds_sum 1.5
portal_latency_seconds_count 7
"""

STATS = {
    "received": 120,
    "timeliness": {"early": 10, "on_time": 80, "late": 5},
    "by_channel": {"1": 40, "2": 70, "3": 10},
    "by_agency": [
        {"agency_code": "STP", "received": 50, "late": 2},
        {"agency_code": "SYT", "received": 70, "late": 3},
    ],
}


class Loopback:
    """An aiohttp application with one route per behaviour, and a request counter."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.queries: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ok", self.ok)
        app.router.add_get("/count/{name}", self.count)
        app.router.add_get("/delay/{ms}", self.delay)
        app.router.add_get("/status/{code}", self.status)
        app.router.add_get("/hang", self.hang)
        app.router.add_get("/big", self.big)
        app.router.add_get("/big-chunked", self.big_chunked)
        app.router.add_get("/drip", self.drip)
        app.router.add_get("/json", self.json)
        app.router.add_get("/text", self.text)
        app.router.add_get("/stats", self.stats)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_post("/echo", self.echo)
        return app

    async def start(self) -> str:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def count(self, request: web.Request) -> web.Response:
        self.hits[request.match_info["name"]] += 1
        return web.Response(text="counted")

    async def delay(self, request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="late but ok")

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def hang(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response(text="never")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 2_000_000)

    async def big_chunked(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"y" * 50_000)
        await resp.write_eof()
        return resp

    async def drip(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(50):
            await resp.write(b".")
            await asyncio.sleep(0.05)
        await resp.write_eof()
        return resp

    async def json(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": "2.1", "items": [1, 2]})

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>Cổng dịch vụ công</html>", content_type="text/html")

    async def stats(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        return web.json_response(STATS)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=METRICS_TEXT, content_type="text/plain")

    async def echo(self, request: web.Request) -> web.Response:
        body: Any = await request.json()
        ok = body.get("procedure_code") == "1.001" and request.headers.get("X-Token") == "t0k"
        return web.Response(status=201 if ok else 400, text=json.dumps(body))


async def raw_server(behaviour: str) -> tuple[asyncio.Server, int]:
    """A TCP server that answers garbage, or resets the connection, after reading a request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        if behaviour == "garbage":
            writer.write(b"\x00\xffthis is not HTTP at all\r\n\r\n" * 4)
            await writer.drain()
            writer.close()
        else:  # reset: SO_LINGER 0 makes close() send RST
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path, days: int) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate valid for `days` days."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", str(days), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx
