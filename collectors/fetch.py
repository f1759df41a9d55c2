"""HTTP requests for every HTTP-based kind: one shared session, timings, capped bodies.

Each failure becomes a `CollectFailure` with a reason category; nothing else escapes for a
network problem, so a down target is data and an exception is a bug of ours.
"""

from __future__ import annotations

import asyncio
import errno
import re
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from collectors.model import CollectFailure, Reason
from collectors.tls import TimedSSLObject, cert_days_left, client_context

_DETAIL_MAX = 300
_USERINFO = re.compile(r"//[^/@\s]+@")  # credentials in a URL never reach a stored detail


@dataclass(slots=True)
class _Marks:
    """perf_counter instants reported by aiohttp's tracing signals for one request."""

    dns_start: float | None = None
    dns_end: float | None = None
    conn_start: float | None = None
    conn_end: float | None = None
    sent: float | None = None


@dataclass(slots=True)
class Response:
    """A response read in full (up to the cap), with the timing breakdown in milliseconds."""

    status: int
    body: bytes
    content_type: str
    duration_ms: float
    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    cert_days: float | None


class _TimedResponse(aiohttp.ClientResponse):
    """Remembers the connection's TLS object at the start of the response.

    The connection may go back to the pool as soon as a small body has arrived, so the TLS
    details are taken while it is still attached (`response_class` is aiohttp's own seam).
    """

    tls: TimedSSLObject | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        obj = transport.get_extra_info("ssl_object") if transport is not None else None
        self.tls = obj if isinstance(obj, TimedSSLObject) else None
        return await super().start(connection)


def _tracing() -> aiohttp.TraceConfig:
    def mark(field: str) -> Any:
        async def record(_s: Any, ctx: SimpleNamespace, _p: Any) -> None:
            setattr(ctx.trace_request_ctx, field, time.perf_counter())
        return record

    trace = aiohttp.TraceConfig()
    trace.on_dns_resolvehost_start.append(mark("dns_start"))
    trace.on_dns_resolvehost_end.append(mark("dns_end"))
    trace.on_connection_create_start.append(mark("conn_start"))
    trace.on_connection_create_end.append(mark("conn_end"))
    trace.on_request_headers_sent.append(mark("sent"))
    return trace


class HttpClient:
    """The shared client session: keep-alive connections reused across targets of a host."""

    def __init__(self, *, limit: int = 1000, keepalive_s: float = 75.0) -> None:
        self._limit = limit
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._contexts = {True: client_context(True), False: client_context(False)}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0,
                                             keepalive_timeout=self._keepalive_s,
                                             ttl_dns_cache=60)
            # Timeouts are enforced by the scheduler around the whole collection.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                trace_configs=[_tracing()], cookie_jar=aiohttp.DummyCookieJar(),
                response_class=_TimedResponse)
        return self._session

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, method: str, url: str, *, now: datetime,
                    headers: dict[str, str] | None = None, data: bytes | None = None,
                    max_bytes: int = 1_048_576, verify_tls: bool = True) -> Response:
        """Send one request and read the body; failures raise `CollectFailure`."""
        marks = _Marks()
        start = time.perf_counter()
        try:
            ssl_ctx = self._contexts[verify_tls] if url[:6].lower() == "https:" else True
            async with self._open().request(
                method, url, headers=headers, data=data, ssl=ssl_ctx, allow_redirects=True,
                trace_request_ctx=marks,
            ) as resp:
                headers_at = time.perf_counter()
                tls_obj = resp.tls if isinstance(resp, _TimedResponse) else None
                body = await _read_capped(resp, max_bytes)
        except CollectFailure:
            raise
        except (aiohttp.ClientError, OSError, ssl.SSLError, ValueError) as exc:
            reason, detail = classify(exc)
            raise CollectFailure(reason, detail) from None
        end = time.perf_counter()
        return _response(resp, body, start, headers_at, end, marks, tls_obj, now)


def _response(resp: aiohttp.ClientResponse, body: bytes, start: float, headers_at: float,
              end: float, marks: _Marks, tls_obj: TimedSSLObject | None,
              now: datetime) -> Response:
    tls_ms = cert_days = None
    created = marks.conn_start is not None and marks.conn_end is not None
    if tls_obj is not None:
        der = tls_obj.getpeercert(binary_form=True)
        cert_days = cert_days_left(der, now) if der else None
        if created:
            tls_ms = tls_obj.handshake_ms
    connect_ms = None
    if created:
        connect_ms = ((marks.conn_end or 0) - (marks.conn_start or 0)) * 1000 - (tls_ms or 0)
    return Response(
        status=resp.status, body=body, content_type=resp.content_type,
        duration_ms=(end - start) * 1000,
        dns_ms=_span(marks.dns_start, marks.dns_end), connect_ms=connect_ms, tls_ms=tls_ms,
        ttfb_ms=_span(marks.sent, headers_at), cert_days=cert_days)


def _span(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (b - a) * 1000


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        resp.close()
        raise CollectFailure("oversized", f"Content-Length {declared} > cap {max_bytes}",
                             status_code=resp.status)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await resp.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            resp.close()
            raise CollectFailure("oversized", f"body larger than cap {max_bytes} bytes",
                                 status_code=resp.status)
        chunks.append(chunk)


def classify(exc: BaseException) -> tuple[Reason, str]:
    """The reason category of a network exception, and a short detail without secrets."""
    detail = _USERINFO.sub("//***@", f"{type(exc).__name__}: {exc}")[:_DETAIL_MAX]
    return _reason(exc), detail


def _reason(exc: BaseException) -> Reason:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError | aiohttp.ServerFingerprintMismatch):
        return "tls"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | aiohttp.ServerDisconnectedError | BrokenPipeError):
        return "reset"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_reason(exc.os_error)
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return "protocol"
    if isinstance(exc, OSError):
        return _os_reason(exc)
    return "error"


def _os_reason(exc: OSError) -> Reason:
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if exc.errno == errno.ECONNREFUSED:
        return "refused"
    if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return "reset"
    if exc.errno in (errno.ETIMEDOUT,):
        return "timeout"
    return "error"
