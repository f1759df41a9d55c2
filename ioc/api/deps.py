"""What routes reach through `request.app.state.services`, and shared route helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Query, Request
from psycopg_pool import AsyncConnectionPool

from ioc.api.auth import Authenticator
from ioc.api.database import Database
from ioc.api.feed import WallFeed
from ioc.api.live import Hub
from ioc.api.metrics import ApiMetrics
from ioc.api.ratelimit import FailureLimiter
from ioc.api.status import StatusReader
from ioc.config.holder import ReloadResult
from ioc.config.model import ProvinceConfig
from ioc.settings import Settings

MAX_WINDOW = timedelta(days=400)


@dataclass
class Services:
    """The app's collaborators, built once by `create_app`."""

    settings: Settings
    pool: AsyncConnectionPool
    db: Database  # the pool behind the database's health: use db.connection()
    clock: Callable[[], datetime]
    metrics: ApiMetrics
    limiter: FailureLimiter
    auth: Authenticator
    status: StatusReader
    feed: WallFeed
    hub: Hub
    config: Callable[[], ProvinceConfig | None]
    reload_config: Callable[[], ReloadResult] | None = None


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def connection(request: Request) -> AsyncIterator[psycopg.AsyncConnection]:
    """A pooled connection for the duration of one request (503 at once while the database
    is known to be unreachable)."""
    async with services(request).db.connection() as conn:
        yield conn


Conn = Annotated[psycopg.AsyncConnection, Depends(connection)]
Svc = Annotated[Services, Depends(services)]


def window(
    from_: Annotated[datetime | None, Query(alias="from", description="RFC 3339; default to-24h")]
    = None,
    to: Annotated[datetime | None, Query(description="RFC 3339; default now")] = None,
    svc: Services = Depends(services),  # noqa: B008
) -> tuple[datetime, datetime]:
    """A [from, to) window from query parameters, checked (aware, ordered, bounded)."""
    try:
        end = to or svc.clock()
        start = from_ or end - timedelta(hours=24)
    except OverflowError:
        raise HTTPException(422, "from/to out of range") from None
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(422, "from and to need a time zone, e.g. 2026-01-05T00:00:00Z")
    if start >= end:
        raise HTTPException(422, "from must be before to")
    if end - start > MAX_WINDOW:
        raise HTTPException(422, f"the window may span at most {MAX_WINDOW.days} days")
    return start, end


Window = Annotated[tuple[datetime, datetime], Depends(window)]
