"""The API process's own Prometheus metrics, in an explicit registry (no global state)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request
from starlette.responses import Response


class ApiMetrics:
    """Request counts and latency by route template, websocket clients, live events."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("ioc_api_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram(
            "ioc_api_request_duration_seconds", "Time to answer an HTTP request",
            ["route"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.auth_failures = Counter("ioc_api_auth_failures", "Failed authentications",
                                     registry=r)
        self.ws_clients = Gauge("ioc_api_ws_clients", "Connected live-feed clients", registry=r)
        self.ws_dropped = Counter("ioc_api_ws_dropped", "Live-feed clients dropped as too slow",
                                  registry=r)
        self.ws_messages = Counter("ioc_api_ws_messages", "Messages queued to live-feed clients",
                                   registry=r)
        self.events = Counter("ioc_api_events", "ioc_events notifications received",
                              ["type"], registry=r)
        self.listener_up = Gauge("ioc_api_listener_connected",
                                 "1 while the LISTEN connection is up", registry=r)


def route_template(request: Request) -> str:
    """The matched route's path template (bounded label values), or 'unmatched'."""
    route = request.scope.get("route")  # set by the router once it has matched
    fmt = getattr(route, "path_format", None)
    if not isinstance(fmt, str):
        return "unmatched"
    # Routes of an included router know their path without the router's prefix: recover it.
    try:
        concrete = fmt.format(**request.scope.get("path_params", {}))
    except (KeyError, IndexError, ValueError):
        return fmt
    path = request.url.path
    prefix = path[: len(path) - len(concrete)] if path.endswith(concrete) else ""
    return prefix + fmt


def middleware(metrics: ApiMetrics) -> Callable[..., Awaitable[Response]]:
    """HTTP middleware recording each request's route, status and duration."""

    async def record(request: Request,
                     call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = route_template(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - start)

    return record
