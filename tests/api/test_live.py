"""The live feed: snapshot, deltas from NOTIFY, heartbeats, slow clients, listener recovery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from ioc import db
from ioc.api.auth import Principal
from ioc.api.database import Database
from ioc.api.live import CLOSE_SLOW, Hub
from ioc.api.metrics import ApiMetrics
from ioc.db import make_pool

from .conftest import Tokens
from .seed import add_alert, add_probe, add_target
from .server import ApiServer


async def next_of(ws: ClientConnection, want: Callable[[dict[str, Any]], bool],
                  timeout: float = 10.0) -> dict[str, Any]:
    """The next message satisfying `want` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.recv())
            if want(msg):
                return msg


def test_snapshot_then_status_delta_on_notify(api_server: ApiServer, api_tokens: Tokens,
                                              api_db: str) -> None:
    add_target(api_db, "live-portal", "portal", interval_s=5)
    add_probe(api_db, "live-portal", datetime.now(UTC), True)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(f"{api_server.ws_url}?token={api_tokens.viewer}") as ws:
            snap = await next_of(ws, lambda m: m["type"] == "snapshot")
            await asyncio.to_thread(add_probe, api_db, "live-portal", datetime.now(UTC), False,
                                    notify=True)
            delta = await next_of(ws, lambda m: m["type"] == "status"
                                  and m["system"]["system"] == "portal"
                                  and m["system"]["state"] == "down")
            return snap, delta

    snap, delta = asyncio.run(run())
    assert {s["system"] for s in snap["systems"]} >= {"portal", "payments", "documents"}
    assert {"alerts", "kpis", "availability", "heartbeat_s"} <= set(snap)
    target = next(t for t in delta["system"]["targets"] if t["id"] == "live-portal")
    assert target["reason"] == "refused"


def test_a_client_connecting_just_after_a_delta_gets_a_snapshot_as_new(
        api_server: ApiServer, api_tokens: Tokens, api_db: str) -> None:
    """Snapshots are shared for a second, but never across a delta: else a screen connecting
    just after one would show the old state until the next change."""
    add_target(api_db, "live-docs", "documents", interval_s=60)
    add_probe(api_db, "live-docs", datetime.now(UTC), True)
    url = f"{api_server.ws_url}?token={api_tokens.viewer}"

    def docs(message: dict[str, Any]) -> str:
        return str(next(s for s in message["systems"] if s["system"] == "documents")["state"])

    async def run() -> tuple[str, str]:
        async with websockets.connect(url) as first:
            before = docs(await next_of(first, lambda m: m["type"] == "snapshot"))
            await asyncio.to_thread(add_probe, api_db, "live-docs", datetime.now(UTC), False,
                                    notify=True)
            await next_of(first, lambda m: m["type"] == "status"
                          and m["system"]["system"] == "documents"
                          and m["system"]["state"] == "down")
            async with websockets.connect(url) as second:  # within the snapshot's second
                return before, docs(await next_of(second, lambda m: m["type"] == "snapshot"))

    assert asyncio.run(run()) == ("up", "down")


def test_alert_events_and_heartbeats_reach_clients(api_server: ApiServer, api_tokens: Tokens,
                                                   api_db: str) -> None:
    async def run() -> dict[str, Any]:
        async with websockets.connect(f"{api_server.ws_url}?token={api_tokens.viewer}") as ws:
            await next_of(ws, lambda m: m["type"] == "snapshot")
            await next_of(ws, lambda m: m["type"] == "heartbeat")
            await asyncio.to_thread(add_alert, api_db, "fp-live", datetime.now(UTC),
                                    summary="Cổng dịch vụ công không phản hồi", notify=True)
            return await next_of(ws, lambda m: m["type"] == "alerts"
                                 and any(a["fingerprint"] == "fp-live" for a in m["alerts"]))

    msg = asyncio.run(run())
    alert = next(a for a in msg["alerts"] if a["fingerprint"] == "fp-live")
    assert alert["annotations"]["summary"] == "Cổng dịch vụ công không phản hồi"


def test_kpi_event_republishes_the_wall_kpis(api_server: ApiServer, api_tokens: Tokens,
                                             api_db: str) -> None:
    async def run() -> dict[str, Any]:
        async with websockets.connect(f"{api_server.ws_url}?token={api_tokens.viewer}") as ws:
            await next_of(ws, lambda m: m["type"] == "snapshot")
            with db.connect(api_db) as conn:
                conn.execute("""SELECT pg_notify('ioc_events', '{"type": "kpi"}')""")
            return await next_of(ws, lambda m: m["type"] == "kpis")

    msg = asyncio.run(run())
    assert [k["id"] for k in msg["kpis"]][:2] == ["dossiers.received", "766.2.1"]
    # today's transactions await their T+1 files: the match rate tile covers 7 days
    recon = next(k for k in msg["kpis"] if k["id"] == "recon.match_rate")
    span = datetime.fromisoformat(recon["to"]) - datetime.fromisoformat(recon["from"])
    assert (recon["window_days"], span) == (7, timedelta(days=7))
    assert next(k for k in msg["kpis"] if k["id"] == "766.2.1")["window_days"] is None
    assert set(msg["availability"]) == {"portal", "payments", "documents"}


def test_listener_recovers_and_resynchronises_clients(api_server: ApiServer,
                                                      api_tokens: Tokens, api_db: str) -> None:
    async def run() -> dict[str, Any]:
        async with websockets.connect(f"{api_server.ws_url}?token={api_tokens.viewer}") as ws:
            await next_of(ws, lambda m: m["type"] == "snapshot")
            with db.connect(api_db) as conn:  # the database drops the LISTEN connection
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = 'ioc-api-listen' AND datname = "
                             "current_database()")
            return await next_of(ws, lambda m: m["type"] == "snapshot", timeout=15)

    assert asyncio.run(run())["systems"]
    api_server.wait(lambda: api_server.app.state.services.hub.listening.is_set(), "listener")


def _unused_database() -> Database:
    """A database the hub is never made to reach (its pool is never opened)."""
    url = "postgresql://unused"
    return Database(make_pool(url), url)


async def test_slow_client_is_dropped_and_others_get_everything() -> None:
    hub = Hub(_unused_database(), ApiMetrics(), _no_deltas, queue_size=3)
    slow, fast = (hub.add(Principal(i, f"wall-{i}", "viewer")) for i in (1, 2))
    received = []
    for i in range(10):
        hub.publish({"type": "kpi", "n": i})
        received.append(json.loads(fast.queue.get_nowait() or "{}")["n"])
    assert received == list(range(10))
    assert slow.close == CLOSE_SLOW
    assert slow.queue.get_nowait() is None  # its sender stops at this marker and closes
    assert fast.close is None


async def _no_deltas(event: dict[str, Any]) -> list[dict[str, Any]]:
    return []


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"type": "token", "id": "x"}'])
async def test_bad_event_payloads_are_ignored(payload: str) -> None:
    hub = Hub(_unused_database(), ApiMetrics(), _no_deltas)
    client = hub.add(Principal(1, "wall-1", "viewer"))
    await hub.dispatch(payload)
    assert client.close is None and client.queue.empty()
