"""Delivery: a receiver that is down for minutes gets everything when it returns; a permanent
error is not retried and stays visible; the claim is exclusive."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import aiohttp
import psycopg

from alerts.actions import list_notifications
from alerts.engine import Engine
from alerts.outbox import Backoff, Outbox
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


async def _fire(conn: psycopg.AsyncConnection, receiver: Receiver, targets: list[str]) -> Engine:
    cfg = make_config(rules=[down_rule(), down_rule("target-down-2")],
                      channels=[webhook("ops", receiver.url + "/hook")],
                      routing={"channels": ["ops"], "group_wait": "0s",
                               "group_by": ["target"]})
    engine = Engine(conn, cfg)
    for target in targets:
        await add_target(conn, target)
        await probe(conn, target, T0, ok=False)
    await engine.cycle(T0)
    return engine


async def test_receiver_down_for_minutes_gets_everything_when_back(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine = await _fire(conn, receiver, ["t1", "t2", "t3"])
    backoff = Backoff(base=timedelta(seconds=1), cap=timedelta(seconds=20))
    outbox = Outbox(conn2, engine.cfg, session, secret=SECRET, backoff=backoff,
                    rng=random.Random(7))
    receiver.status = 503
    now = T0
    while now < T0 + timedelta(minutes=5):  # five minutes of the test's clock, 1 s apart
        await outbox.drain(now)
        now += timedelta(seconds=1)
    attempts = len(receiver.requests)
    # three messages; backoff reaches its 20 s cap (10-20 s with jitter) within a minute, so
    # each is tried 15-35 times in 5 minutes, not every second
    assert 15 * 3 <= attempts <= 35 * 3
    receiver.status = 200
    await outbox.drain(now + timedelta(seconds=20))  # within one capped delay of its return
    events = receiver.events()
    assert sorted(ev["labels"]["target"] for ev in events) == ["t1", "t1", "t2", "t2", "t3",
                                                               "t3"]
    assert len({ev["key"] for ev in events}) == 6
    rows = await list_notifications(conn, state="sent")
    assert len(rows) == 3 and all(r["last_error"] is None for r in rows)  # grouped by target


async def test_permanent_error_is_not_retried_and_is_visible(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine = await _fire(conn, receiver, ["t1"])
    outbox = Outbox(conn2, engine.cfg, session, secret=SECRET)
    receiver.status = 404
    receiver.answer = '{"error": "no such hook"}'
    assert await outbox.drain(T0) == {"failed": 1}
    assert await outbox.drain(T0 + timedelta(hours=1)) == {}
    [failed] = await list_notifications(conn, state="failed")
    assert failed["attempts"] == 1 and failed["events"] == 2
    assert failed["last_error"] == 'HTTP 404: {"error": "no such hook"}'


async def test_message_gives_up_after_its_age_limit(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine = await _fire(conn, receiver, ["t1"])
    backoff = Backoff(base=timedelta(seconds=1), cap=timedelta(seconds=1),
                      give_up_after=timedelta(minutes=1))
    outbox = Outbox(conn2, engine.cfg, session, secret=SECRET, backoff=backoff)
    receiver.status = 500
    assert await outbox.drain(T0) == {"retry": 1}
    assert await outbox.drain(T0 + timedelta(minutes=2)) == {"failed": 1}
    [row] = await list_notifications(conn, state="failed")
    assert row["last_error"].startswith("gave up after 2 attempts: HTTP 500")


async def test_a_claimed_message_is_not_claimed_twice(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine = await _fire(conn, receiver, ["t1", "t2"])
    first = Outbox(conn, engine.cfg, session, secret=SECRET)
    second = Outbox(conn2, engine.cfg, session, secret=SECRET)
    a, b = await first.claim(T0), await second.claim(T0)
    assert a is not None and b is not None and a["id"] != b["id"]
    assert await first.claim(T0) is None  # both messages are out on lease
    # a worker that died holding a claim: once the lease runs out, another takes it again
    again = await second.claim(T0 + timedelta(minutes=2))
    assert again is not None and again["attempts"] == 2
