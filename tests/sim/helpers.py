"""Helpers for the simulated province's tests: options, plain HTTP calls, waiting for faults."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sim import SimOptions, Volumes

# A Wednesday, 10:00 in Vietnam: offices open, no holiday near.
START = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)
SMALL = Volumes(dossiers_per_day=600, documents_per_day=500)


def options(**overrides: Any) -> SimOptions:
    """A small, frozen province (speed 0) unless told otherwise."""
    values: dict[str, Any] = {"seed": 7, "speed": 0.0, "backfill_days": 2, "start_at": START,
                              "volumes": SMALL}
    values.update(overrides)
    return SimOptions(**values)


def z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def get_json(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as resp:
        assert resp.status == 200, (url, resp.status, await resp.text())
        return await resp.json()


async def all_records(session: aiohttp.ClientSession, url: str, limit: int = 2000,
                      since: str | None = None) -> list[Any]:
    """Every record of a paged endpoint changed after `since`, following `next`."""
    items: list[Any] = []
    params = {"limit": str(limit)}
    if since is not None:
        params["updated_since"] = since
    while True:
        page = await get_json(session, url, **params)
        items.extend(page["items"])
        if page["next"] is None:
            return items
        params["updated_since"] = page["next"]


async def add_fault(session: aiohttp.ClientSession, control_url: str, **spec: Any) -> Any:
    async with session.post(f"{control_url}/faults", json=spec) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def wait_fault_gone(session: aiohttp.ClientSession, control_url: str, fault_id: str,
                          within: float) -> float:
    """Wait until the fault is no longer listed; return how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        listed = await get_json(session, f"{control_url}/faults")
        if all(f["id"] != fault_id for f in listed["items"]):
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"fault {fault_id} still on after {within} s")
