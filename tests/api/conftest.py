"""Fixtures for the API tests: a database with tokens of every role and a running server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ioc import db
from ioc.api import tokens
from ioc.config.holder import ConfigHolder
from ioc.config.model import ProvinceConfig
from ioc.settings import PROJECT_ROOT

from .server import ApiServer


@dataclass(frozen=True)
class Tokens:
    """A secret of each role, plus a revoked one, in one database."""

    viewer: str
    operator: str
    admin: str
    ingest: str
    metrics: str
    revoked: str

    def of(self, who: str) -> str | None:
        return None if who == "none" else getattr(self, who)


def make_tokens(url: str, suffix: str = "") -> Tokens:
    async def go() -> Tokens:
        now = datetime.now(UTC)
        async with await db.connect_async(url) as conn:
            made = {}
            for role in ("viewer", "operator", "admin"):
                _, made[role] = await tokens.create(conn, f"{role}{suffix}", role, now)
            # The example config's push target names this token.
            _, made["ingest"] = await tokens.create(conn, f"documents-push{suffix}", "ingest", now)
            _, made["metrics"] = await tokens.create(conn, f"prometheus{suffix}", "metrics", now)
            gone, made["revoked"] = await tokens.create(conn, f"gone{suffix}", "admin", now)
            await tokens.revoke(conn, gone.id, now)
        return Tokens(**made)

    return asyncio.run(go())


@pytest.fixture(scope="session")
def province() -> ProvinceConfig:
    """The example province config shipped in config/."""
    return ConfigHolder(PROJECT_ROOT / "config", env={}).config


@pytest.fixture(scope="module")
def api_db(make_db: Callable[[], str]) -> str:
    """A fresh migrated database for one test module."""
    return make_db()


@pytest.fixture(scope="module")
def api_tokens(api_db: str) -> Tokens:
    return make_tokens(api_db)


@pytest.fixture(scope="module")
def api_server(api_db: str, province: ProvinceConfig) -> Iterator[ApiServer]:
    server = ApiServer(api_db, heartbeat_s=1.0, refresh_s=0.5, config=lambda: province).start()
    yield server
    server.stop()
