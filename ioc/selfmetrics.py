"""The standalone metrics port of `ioc collect` and `ioc alerts` (the API serves /metrics itself).

Like every Prometheus exporter port it is unauthenticated, so it binds to 127.0.0.1 unless
`--metrics-host` says otherwise: scrape it from the same machine, or put it behind a firewall.
"""

from __future__ import annotations

import argparse
import logging

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--metrics-port` and `--metrics-host` (`--metrics-addr` kept as an alias)."""
    parser.add_argument("--metrics-port", type=int, default=None, metavar="N",
                        help=f"expose {what}'s own Prometheus metrics on this port "
                        "(unauthenticated: loopback only unless --metrics-host)")
    parser.add_argument("--metrics-host", "--metrics-addr", dest="metrics_host",
                        default="127.0.0.1", metavar="ADDR",
                        help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 for all)")


def serve(registry: CollectorRegistry, port: int | None, host: str) -> str | None:
    """Serve `registry` on http://host:port/metrics from a thread; the error text, if any."""
    if port is None:
        return None
    if not 0 <= port <= 65535:
        return f"--metrics-port {port} is not a port number (0-65535)"
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        return f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
    log.info("self-metrics on http://%s:%d/metrics", host, port)
    return None
