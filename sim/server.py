"""The HTTP side shared by the simulated systems: sockets we control, faults applied to requests.

Each system is an aiohttp application served from a socket this module binds itself, so an
outage can really close it (new connections are refused) and reopen it later on the same port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from random import Random
from typing import Any, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from sim.faults import (
    ErrorRate,
    Fault,
    FaultBoard,
    Garbage,
    Hang,
    Latency,
    Outage,
    Oversized,
    SlowDrip,
)
from sim.metrics import SystemMetrics
from sim.wire import dumps, iso

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PADDING = b"x" * 65536
S = TypeVar("S")


class SimContext(Protocol):
    """What the HTTP layer needs from the running simulation."""

    board: FaultBoard
    fault_rng: Random

    def sync(self) -> None:
        """Bring the model up to the simulated now and end expired faults."""


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json")


def error_response(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status)


def answer(compute: Callable[[], object]) -> web.Response:
    """JSON of what `compute` returns, or 400 with its message when the request was wrong."""
    try:
        return json_response(compute())
    except ValueError as exc:
        return error_response(str(exc))


async def json_object(request: web.Request, example: str) -> dict[str, Any]:
    """The request body as a JSON object; ValueError says what to send instead."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ValueError(f"the body must be a JSON object, e.g. {example}")
    return body


def health_response(system: str, now: datetime) -> web.Response:
    """The answer of every system's /health: ok, which system, and its simulated time."""
    return json_response({"status": "ok", "system": system, "time": iso(now)})


class SystemServer:
    """One system's server; `close_listener` and `reopen` implement an outage."""

    def __init__(self, name: str, app: web.Application, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        self._site: web.SockSite | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._site is not None

    async def start(self) -> None:
        await self.runner.setup()
        await self.reopen()

    async def reopen(self) -> None:
        """Listen again (on the port first bound, when that was port 0)."""
        if self._site is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        site = web.SockSite(self.runner, sock)
        await site.start()
        self._site = site

    async def close_listener(self) -> None:
        """Refuse new connections and drop the open ones."""
        site, self._site = self._site, None
        if site is not None:
            await site.stop()
        server = self.runner.server
        for handler in server.connections if server is not None else ():
            if handler.transport is not None:
                handler.transport.abort()

    async def stop(self) -> None:
        self._site = None
        await self.runner.cleanup()


def make_middleware(system: str, sim: SimContext, metrics: SystemMetrics) -> Middleware:
    """Bring the model up to date, apply this system's faults, and count the request."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        sim.sync()
        faults = sim.board.matching(system, request.path)
        code = 500
        try:
            if faults:
                response = await _with_faults(request, handler, faults, sim.fault_rng)
            else:
                response = await handler(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            metrics.observe(_route(request), code, time.perf_counter() - started)

    return middleware


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _with_faults(request: web.Request, handler: Handler, faults: list[Fault],
                       rng: Random) -> web.StreamResponse:
    if _spec(faults, Outage) is not None:
        return _drop(request)
    hang = next((f for f in faults if isinstance(f.spec, Hang)), None)
    if hang is not None:
        await hang.ended.wait()
        return _drop(request)
    delay = sum(_latency_s(f.spec, rng) for f in faults if isinstance(f.spec, Latency))
    if delay:
        await asyncio.sleep(delay)
    error = _spec(faults, ErrorRate)
    if error is not None and rng.random() < error.rate:
        return error_response("simulated fault", error.status)
    if _spec(faults, Garbage) is not None:
        noise = bytes(rng.getrandbits(8) for _ in range(512))
        body = b"\x1f\x8b<html><body>502 Bad Gateway</body></html>\x00\xff" + noise
        return web.Response(body=body, status=200, content_type="application/json")
    big = _spec(faults, Oversized)
    if big is not None:
        return await _oversized(request, int(big.mb * 1024 * 1024))
    response = await handler(request)
    drip = _spec(faults, SlowDrip)
    if drip is not None and isinstance(response, web.Response):
        return await _slow_drip(request, response, drip.chunk_bytes, drip.interval_ms / 1000)
    return response


def _spec(faults: list[Fault], kind: type[S]) -> S | None:
    """The spec of the first fault of this kind, if any."""
    return next((f.spec for f in faults if isinstance(f.spec, kind)), None)


def _latency_s(spec: Latency, rng: Random) -> float:
    extra = 0.0
    if spec.spread_ms > 0 and spec.distribution == "uniform":
        extra = rng.uniform(0, spec.spread_ms)
    elif spec.spread_ms > 0 and spec.distribution == "exponential":
        extra = rng.expovariate(1 / spec.spread_ms)
    return (spec.ms + extra) / 1000


def _drop(request: web.Request) -> web.Response:
    """Close the connection without an answer (aiohttp then skips writing the response)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)


async def _oversized(request: web.Request, size: int) -> web.StreamResponse:
    head, tail = b'{"padding":"', b'"}'
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = size
    await response.prepare(request)
    await response.write(head)
    left = size - len(head) - len(tail)
    while left > 0:
        chunk = _PADDING[: min(left, len(_PADDING))]
        await response.write(chunk)
        left -= len(chunk)
    await response.write(tail)
    return response


async def _slow_drip(request: web.Request, original: web.Response, chunk: int,
                     interval: float) -> web.StreamResponse:
    body = original.body if isinstance(original.body, bytes) else b""
    response = web.StreamResponse(status=original.status, headers={
        "Content-Type": original.headers.get("Content-Type", "application/octet-stream"),
    })
    response.content_length = len(body)
    await response.prepare(request)
    for start in range(0, len(body), chunk):
        if start:
            await asyncio.sleep(interval)
        await response.write(body[start:start + chunk])
    return response
