"""The outermost HTTP layer: security headers, request metrics and an access log without query
strings, as one plain ASGI middleware (cheaper than stacked BaseHTTPMiddleware layers)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ioc.api.metrics import ApiMetrics

log = logging.getLogger("ioc.api")


class Edge:
    """Adds `headers` to every response that lacks them, counts and times requests by route."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, headers: dict[str, str]) -> None:
        self.app = app
        self.metrics = metrics
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.headers if k not in present]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            took = time.perf_counter() - start
            route = route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(route).observe(took)
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, took * 1000)


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's path template (bounded label values), or 'unmatched'."""
    route = scope.get("route")  # set by the router once it has matched
    fmt = getattr(route, "path_format", None)
    if not isinstance(fmt, str):
        return "unmatched"
    # Routes of an included router know their path without the router's prefix: recover it.
    try:
        concrete = fmt.format(**scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return fmt
    path = str(scope["path"])
    prefix = path[: len(path) - len(concrete)] if path.endswith(concrete) else ""
    return prefix + fmt
