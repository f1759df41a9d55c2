"""The API process's own Prometheus metrics, in an explicit registry (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from ioc.api.ratelimit import FailureLimiter


class ApiMetrics:
    """Request counts and latency by route template, websocket clients, live events, and the
    process's own CPU and memory."""

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
        self.auth_refused = Counter(
            "ioc_api_auth_refused",
            "Failed authentications answered 429: the address or token prefix is locked out",
            registry=r)
        self.auth_lockouts = Counter(
            "ioc_api_auth_lockouts", "Times an address or token prefix reached the failure limit",
            ["kind"], registry=r)
        self._auth_locked = Gauge("ioc_api_auth_locked",
                                  "Addresses and token prefixes locked out now", ["kind"],
                                  registry=r)
        self._auth_limit = Gauge("ioc_api_auth_failure_limit",
                                 "Failed authentications allowed per address or token prefix "
                                 "within the window", registry=r)
        self._auth_window = Gauge("ioc_api_auth_failure_window_seconds",
                                  "The failure limit's sliding window", registry=r)
        self.ws_clients = Gauge("ioc_api_ws_clients", "Connected live-feed clients", registry=r)
        self.ws_dropped = Counter("ioc_api_ws_dropped", "Live-feed clients dropped as too slow",
                                  registry=r)
        self.ws_messages = Counter("ioc_api_ws_messages", "Messages queued to live-feed clients",
                                   registry=r)
        self.events = Counter("ioc_api_events", "ioc_events notifications received",
                              ["type"], registry=r)
        self.listener_up = Gauge("ioc_api_listener_connected",
                                 "1 while the LISTEN connection is up", registry=r)
        ProcessCollector(registry=r)  # CPU, memory, open descriptors, start time

    def watch_limiter(self, limiter: FailureLimiter) -> None:
        """Export the failed-authentication limiter's settings and lockouts."""
        self._auth_limit.set(limiter.limit)
        self._auth_window.set(limiter.window_s)
        for kind in ("address", "token_prefix"):
            self.auth_lockouts.labels(kind=kind)
            self._auth_locked.labels(kind=kind).set_function(
                lambda kind=kind: limiter.locked()[kind])  # type: ignore[misc]
