"""Each simulated system's own Prometheus metrics (for the collectors' `prometheus` kind)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SystemMetrics:
    """Request counters and latency histogram, plus gauges read from the model when scraped."""

    def __init__(self, system: str, gauges: Mapping[str, tuple[str, Callable[[], float]]]) -> None:
        self.system = system
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sim_http_requests", "HTTP requests answered, by route and status code",
            ["endpoint", "code"], registry=self.registry,
        )
        self.duration = Histogram(
            "sim_http_request_duration_seconds", "Time to answer a request, by route",
            ["endpoint"], buckets=BUCKETS, registry=self.registry,
        )
        for name, (help_text, read) in gauges.items():
            Gauge(name, help_text, registry=self.registry).set_function(read)

    def observe(self, endpoint: str, code: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(code)).inc()
        self.duration.labels(endpoint).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
