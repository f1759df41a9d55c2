"""The API as a KPI reader for tests/test_consistency.py: GET /api/v1/kpis/{kpi}."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from ioc import db
from ioc.api import tokens
from ioc.api.app import create_app
from ioc.db import make_pool
from ioc.settings import Settings


def api_kpi_value(url: str, kpi: str, from_: datetime, to: datetime, filter: dict[str, str],
                  cache: dict[str, Any]) -> float | None:
    """The value the API answers for a KPI that has one row for this filter."""
    return asyncio.run(_read(url, kpi, from_, to, filter, cache))


async def _read(url: str, kpi: str, from_: datetime, to: datetime, filter: dict[str, str],
                cache: dict[str, Any]) -> float | None:
    if "api_token" not in cache:
        async with await db.connect_async(url) as conn:
            _, cache["api_token"] = await tokens.create(conn, "consistency", "viewer",
                                                        datetime.now(UTC))
    pool = make_pool(url, min_size=1, max_size=2)
    await pool.open()
    try:
        app = create_app(Settings(database_url=url), pool)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as client:
            resp = await client.get(
                f"/api/v1/kpis/{kpi}",
                params={"from": from_.isoformat(), "to": to.isoformat(),
                        "filter": json.dumps(filter)},
                headers={"Authorization": f"Bearer {cache['api_token']}"})
    finally:
        await pool.close()
    resp.raise_for_status()
    values = resp.json()["values"]
    assert len(values) == 1, values
    value = values[0]["value"]
    return None if value is None else float(value)
