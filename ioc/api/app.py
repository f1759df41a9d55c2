"""The FastAPI application: REST under /api/v1, the live feed, the wall page and operations."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ioc.api import metrics as api_metrics
from ioc.api import redact
from ioc.api.auth import Authenticator
from ioc.api.csp import CSP
from ioc.api.database import RETRY_AFTER_S, Database, DatabaseDown, lost_connection
from ioc.api.deps import Services
from ioc.api.edge import Edge
from ioc.api.feed import PROVINCE_TZ, WALL_KPIS, WallFeed, run_kpi_ticker, run_ticker
from ioc.api.live import Hub
from ioc.api.ratelimit import FailureLimiter
from ioc.api.routes import acklink, admin, alerts, docs, ops, status, wall
from ioc.api.sources import SourceUnavailable
from ioc.api.status import StatusReader, StatusRules
from ioc.config.holder import ReloadResult
from ioc.config.model import ProvinceConfig
from ioc.settings import Settings

log = logging.getLogger("ioc.api")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # wall URLs may carry a token: never leak them
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, pool: AsyncConnectionPool, *,
               clock: Callable[[], datetime] = utc_now,
               limiter: FailureLimiter | None = None,
               status_rules: StatusRules | None = None,
               cors_origins: Sequence[str] = (),
               heartbeat_s: float = 15.0, refresh_s: float = 5.0,
               queue_size: int = 64, send_timeout_s: float = 5.0,
               wall_kpis: Sequence[str] = WALL_KPIS,
               config: Callable[[], ProvinceConfig | None] = lambda: None,
               reload_config: Callable[[], ReloadResult] | None = None,
               pool_wait_s: float = 5.0,
               trusted_proxies: Sequence[str] = ()) -> FastAPI:
    """Build the app; `pool` is opened (if needed) and the live feed started on startup.

    A request waits at most `pool_wait_s` for a pooled connection; while the database is known
    to be unreachable it waits for nothing (503, see ioc.api.database).

    `config` returns the province config in use (push targets, on-call rota), or None;
    `reload_config` reloads it from its directory (admin: POST /api/v1/config/reload).

    `trusted_proxies` (addresses or CIDRs, checked by ioc.settings.parse_proxies): only a peer
    among them is believed about the client (X-Forwarded-For's right-most untrusted address)
    and the scheme (X-Forwarded-Proto); by default no peer is.
    """
    redact.install()
    metrics = api_metrics.ApiMetrics()
    limiter = limiter or FailureLimiter(clock=time.monotonic)
    database = Database(pool, settings.database_url, wait_s=pool_wait_s)
    reader = StatusReader(database, status_rules)
    feed = WallFeed(database, reader, clock, heartbeat_s=heartbeat_s, refresh_s=refresh_s,
                    wall_kpis=wall_kpis, zone=lambda: _zone(config()))
    hub = Hub(database, metrics, feed.on_event, queue_size=queue_size,
              send_timeout_s=send_timeout_s)
    svc = Services(settings=settings, pool=pool, db=database, clock=clock, metrics=metrics,
                   limiter=limiter, auth=Authenticator(database, limiter, clock, metrics),
                   status=reader,
                   feed=feed, hub=hub, config=config, reload_config=reload_config)
    app = FastAPI(
        title="IOC API", version="1",
        description="Smart operations centre: status, KPIs, alerts, silences, reports, push "
        "ingestion and tokens. Authenticate with `Authorization: Bearer <token>`.",
        lifespan=_lifespan(svc), docs_url=None, redoc_url=None,  # CDN assets: CSP
        openapi_url="/api/v1/openapi.json",
    )
    app.state.services = svc
    _mount(app, cors_origins)
    if trusted_proxies:  # outermost: the client address is right before anything uses it
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted_proxies))
    return app


def _mount(app: FastAPI, cors_origins: Sequence[str]) -> None:
    """Routers, error mapping and middleware (the edge outermost)."""
    app.include_router(acklink.router)  # before /alerts/{fingerprint}/... routes
    for router in (status.router, alerts.router, admin.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(ops.router)
    app.include_router(wall.router)
    app.include_router(docs.router)
    app.add_exception_handler(SourceUnavailable, _unavailable)  # type: ignore[arg-type]
    for exc in (DatabaseDown, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(exc, _database_down)
    if cors_origins:  # closed by default: no cross-origin browser access at all
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(Edge, metrics=app.state.services.metrics, headers=SECURITY_HEADERS)


def _lifespan(svc: Services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = svc.pool.closed
        if opened:
            await svc.pool.open(wait=False)
        tasks = [asyncio.create_task(svc.db.watch(), name="ioc-database-watch"),
                 asyncio.create_task(svc.hub.listen(), name="ioc-live-listen"),
                 asyncio.create_task(run_ticker(svc.feed, svc.hub.publish, svc.clock),
                                     name="ioc-live-ticker"),
                 asyncio.create_task(run_kpi_ticker(svc.feed, svc.hub.publish),
                                     name="ioc-live-kpis")]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with suppress(asyncio.CancelledError):
                    await task
            for client in list(svc.hub.clients):
                client.end((1001, "server shutting down"))
            if opened:
                await svc.pool.close()

    return lifespan


async def _unavailable(request: Request, exc: SourceUnavailable) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503)


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database is unreachable: a 503 the client may retry, never a 500 or a 401 (a token
    that cannot be checked is not refused). The outage itself is logged once, by the database
    watcher; other database errors by type (their text may name the server)."""
    if lost_connection(exc):
        request.app.state.services.db.suspect()
    else:
        log.warning("%s %s: database error (%s)", request.method, request.url.path,
                    type(exc).__name__)
    return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_S)})


def _zone(config: ProvinceConfig | None) -> ZoneInfo:
    """The province's time zone (the wall's clock and "today"), Asia/Ho_Chi_Minh by default."""
    return config.province.tz if config is not None else PROVINCE_TZ
