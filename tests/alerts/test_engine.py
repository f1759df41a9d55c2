"""The engine end to end on a real database, with an injected clock and real HTTP receivers:
an outage notifies each channel once and resolves once; flapping, silences, maintenance and
restarts do not spam."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg

from alerts.actions import create_silence, list_alerts, list_transitions
from alerts.engine import Engine
from alerts.outbox import Outbox
from ioc.config.model import ProvinceConfig
from tests.alerts.support import (
    SECRET,
    Receiver,
    add_target,
    down_rule,
    make_config,
    probe,
    webhook,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
STEP = timedelta(seconds=10)


def two_channels(receiver: Receiver, **rule: Any) -> ProvinceConfig:
    return make_config(
        rules=[down_rule(**rule)],
        channels=[webhook("ops-a", receiver.url + "/a"), webhook("ops-b", receiver.url + "/b")],
        routing={"channels": ["ops-a", "ops-b"], "group_wait": "0s"})


async def drive(engine: Engine, outbox: Outbox, conn: psycopg.AsyncConnection,
                pattern: str, start: datetime = T0, target: str = "portal-home") -> datetime:
    """One probe and one cycle per 10 s: 'x' the probe fails, '.' it succeeds."""
    now = start
    for obs in pattern:
        await probe(conn, target, now, ok=obs == ".")
        await engine.cycle(now)
        await outbox.drain(now)
        now += STEP
    return now


def statuses(receiver: Receiver, prefix: str) -> list[str]:
    return [ev["status"] for ev in receiver.events(prefix)]


async def test_outage_notifies_each_channel_once_and_resolves_once(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    cfg = two_channels(receiver)
    await add_target(conn, "portal-home")
    engine, outbox = Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)
    await drive(engine, outbox, conn, "..." + "x" * 12 + "....")

    for prefix in ("/a", "/b"):
        assert statuses(receiver, prefix) == ["firing", "resolved"]
    keys = [r.headers["Idempotency-Key"] for r in receiver.accepted()]
    assert len(keys) == len(set(keys)) == 4
    first = receiver.accepted("/a")[0].json()["alerts"][0]
    assert first["labels"]["target"] == "portal-home"
    assert first["annotations"]["summary"] == "portal-home không phản hồi"
    assert first["ack_url"].startswith("http://127.0.0.1:8080/api/v1/alerts/ack/")
    history = await list_transitions(conn, T0, T0 + timedelta(hours=1))
    assert [(t["from_state"], t["to_state"]) for t in history] == [
        ("inactive", "firing"), ("firing", "resolved")]


async def test_flapping_does_not_spam(conn: psycopg.AsyncConnection,
                                      conn2: psycopg.AsyncConnection, receiver: Receiver,
                                      session: aiohttp.ClientSession) -> None:
    cfg = two_channels(receiver)
    await add_target(conn, "portal-home")
    engine, outbox = Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)
    # 40 failures alternating with successes over ~13 minutes, then stable for 12 minutes
    await drive(engine, outbox, conn, "x." * 40 + "." * 72)
    sent = Counter(statuses(receiver, "/a"))
    assert sent["firing"] == 3  # flap damping holds the third episode open
    assert sent["resolved"] == 3
    [alert] = await list_alerts(conn, states=("resolved",))
    assert not alert["flapping"]


async def test_silence_mutes_notifications_but_not_state(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    cfg = two_channels(receiver)
    await add_target(conn, "portal-home")
    await create_silence(conn, ['target="portal-home"'], T0, T0 + timedelta(hours=1),
                         "an-nv", "đang sửa")
    engine, outbox = Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)
    await drive(engine, outbox, conn, "xxxxx.")
    assert receiver.requests == []
    history = await list_transitions(conn, T0, T0 + timedelta(hours=1))
    assert [t["to_state"] for t in history] == ["firing", "resolved"]


async def test_maintenance_window_mutes_and_is_left_out_of_availability(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    window = {"id": "patch", "kind": "one_off", "name": "Vá lỗi", "system": "portal",
              "start": T0.isoformat(), "end": (T0 + timedelta(minutes=5)).isoformat(),
              "exclude_from_sla": True}
    cfg = make_config(rules=[down_rule()], channels=[webhook("ops-a", receiver.url + "/a")],
                      routing={"channels": ["ops-a"], "group_wait": "0s"},
                      maintenance=[window])
    await add_target(conn, "portal-home")
    engine, outbox = Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)
    end = await drive(engine, outbox, conn, "x" * 24 + "." * 12)  # 4 min down inside 5 min
    assert receiver.requests == []
    await conn.execute("SELECT ioc_rollup_run()")
    cur = await conn.execute("SELECT value FROM ioc_kpi('availability', %s, %s,"
                             " '{\"target\": \"portal-home\", \"by\": \"target\"}')", (T0, end))
    assert (await cur.fetchone()) == (1.0,)  # only the minute after the window counts
    await conn.execute("UPDATE maintenance_windows SET exclude_from_sla = false")
    cur = await conn.execute("SELECT value FROM ioc_kpi('availability', %s, %s,"
                             " '{\"target\": \"portal-home\", \"by\": \"target\"}')", (T0, end))
    assert (await cur.fetchone()) == (12 / 36,)
    cur = await conn.execute("SELECT count(*) FROM maintenance_windows WHERE source = 'config'")
    assert (await cur.fetchone()) == (1,)


async def test_restart_neither_forgets_nor_resends(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    cfg = two_channels(receiver)
    await add_target(conn, "portal-home")
    outbox = Outbox(conn2, cfg, session, secret=SECRET)
    now = await drive(Engine(conn, cfg), outbox, conn, "xxxx")
    # a new engine (a restarted process): nothing in memory, everything in the database
    now = await drive(Engine(conn, cfg), outbox, conn, "xxxx..", start=now)
    assert statuses(receiver, "/a") == ["firing", "resolved"]
    assert statuses(receiver, "/b") == ["firing", "resolved"]


async def test_transitions_are_announced_on_ioc_events(
        conn: psycopg.AsyncConnection, alerts_db: str, receiver: Receiver) -> None:
    cfg = two_channels(receiver)
    await add_target(conn, "portal-home")
    listener = await psycopg.AsyncConnection.connect(alerts_db, autocommit=True)
    async with listener:
        await listener.execute("LISTEN ioc_events")
        await probe(conn, "portal-home", T0, ok=False)
        await Engine(conn, cfg).cycle(T0)
        gen = listener.notifies(timeout=5, stop_after=1)
        [note] = [n async for n in gen]
    event = json.loads(note.payload)
    assert event["type"] == "alert" and (event["from"], event["to"]) == ("inactive", "firing")
    assert event["labels"]["target"] == "portal-home"
