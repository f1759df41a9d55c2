"""On-call escalation and acknowledgement: level 2 is notified at its time unless someone
acknowledges; the signed link acknowledges once and refuses tampered or expired links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import aiohttp
import psycopg

from alerts import ack
from alerts.actions import acknowledge, get_alert, list_alerts
from alerts.engine import Engine
from alerts.oncall import oncall_now
from alerts.outbox import Outbox
from ioc.config.model import ProvinceConfig
from tests.alerts.support import SECRET, Receiver, add_target, down_rule, make_config, probe

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday, 08:00 in Hà Nội
TOKEN = "123456:AAE-bot-token-secret"


def oncall_config(receiver: Receiver) -> ProvinceConfig:
    return make_config(
        rules=[down_rule()],
        channels=[{"name": "tg", "kind": "telegram", "bot_token": TOKEN, "chat_id": "-100",
                   "api_base_url": receiver.url}],
        routing={"escalation": "default", "group_wait": "0s", "repeat_interval": "5m"},
        oncall={
            "people": [{"id": "an", "name": "Nguyễn Văn An", "telegram_chat_id": "1001"},
                       {"id": "binh", "name": "Trần Thị Bình", "telegram_chat_id": "1002"},
                       {"id": "cuong", "name": "Lê Hoàng Cường", "telegram_chat_id": "1003"}],
            "rotations": [
                {"id": "primary", "name": "Trực chính", "participants": ["cuong", "an"],
                 "start": "2026-02-23"},
                {"id": "secondary", "name": "Dự phòng", "participants": ["binh"],
                 "start": "2026-01-05"}],
            "escalation_policies": [{"id": "default", "steps": [
                {"after": "0s", "rotation": "primary", "via": ["tg"]},
                {"after": "15m", "rotation": "secondary", "via": ["tg"]}]}]})


def chats(receiver: Receiver) -> list[tuple[str, str]]:
    """(chat id, first line of text) of each message the bot was asked to send."""
    return [(r.json()["chat_id"], r.json()["text"].split("\n")[0]) for r in receiver.accepted()]


async def run_until(engine: Engine, outbox: Outbox, conn: psycopg.AsyncConnection,
                    start: datetime, end: datetime) -> None:
    now = start
    while now <= end:
        await probe(conn, "portal-home", now, ok=False)
        await engine.cycle(now)
        await outbox.drain(now)
        now += timedelta(seconds=30)


async def _setup(conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection,
                 receiver: Receiver, session: aiohttp.ClientSession) -> tuple[Engine, Outbox]:
    cfg = oncall_config(receiver)
    await add_target(conn, "portal-home")
    return Engine(conn, cfg), Outbox(conn2, cfg, session, secret=SECRET)


async def test_unacknowledged_alert_escalates_to_level_two_at_its_time(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine, outbox = await _setup(conn, conn2, receiver, session)
    assert [p["person"] for p in oncall_now(engine.cfg, T0)] == ["an", "binh"]
    await run_until(engine, outbox, conn, T0, T0 + timedelta(minutes=14, seconds=30))
    sent = chats(receiver)
    assert [c for c, _ in sent] == ["1001", "1001", "1001"]  # first message, 2 repeats
    assert "Nhắc lại" in sent[1][1]
    await run_until(engine, outbox, conn, T0 + timedelta(minutes=15), T0 + timedelta(minutes=15))
    assert chats(receiver)[-2:] == [
        ("1001", "<b>[ĐANG CẢNH BÁO] Nghiêm trọng (Nhắc lại): portal-home không phản hồi</b>"),
        ("1002", "<b>[ĐANG CẢNH BÁO] Nghiêm trọng (Chuyển cấp 2): portal-home không phản hồi"
                 "</b>")]
    assert receiver.accepted()[0].path == f"/bot{TOKEN}/sendMessage"


async def test_acknowledgement_by_link_stops_escalation_and_repeats(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine, outbox = await _setup(conn, conn2, receiver, session)
    await run_until(engine, outbox, conn, T0, T0 + timedelta(minutes=3))
    text = receiver.accepted()[0].json()["text"]
    token = unquote(text.split(ack.ACK_PATH)[1].split('"')[0])
    result = await ack.acknowledge_link(conn, token, SECRET, T0 + timedelta(minutes=4), "an")
    assert result.outcome == "acked"
    await run_until(engine, outbox, conn, T0 + timedelta(minutes=4), T0 + timedelta(minutes=30))
    assert [c for c, _ in chats(receiver)] == ["1001"]  # no repeat, no level 2
    [alert] = await list_alerts(conn)
    assert alert["acked_by"] == "an" and alert["acked_at"] - alert["firing_at"] == \
        timedelta(minutes=4)
    cur = await conn.execute("SELECT via, acked_by FROM alert_acks")
    assert await cur.fetchall() == [("link", "an")]


async def test_signed_link_acknowledges_once_and_refuses_tampered_or_expired(
        conn: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection, receiver: Receiver,
        session: aiohttp.ClientSession) -> None:
    engine, outbox = await _setup(conn, conn2, receiver, session)
    await run_until(engine, outbox, conn, T0, T0)
    [alert] = await list_alerts(conn)
    fp, episode = alert["fingerprint"], alert["episode"]
    token = ack.sign(fp, episode, T0 + timedelta(hours=1), SECRET)
    body, mac = token.rsplit(".", 1)
    later = T0 + timedelta(minutes=1)
    forged = ack.sign(fp, episode, T0 + timedelta(hours=1), "another-key-of-some-length")
    cases = {
        "tampered-mac": f"{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        "tampered-expiry": token.replace(body.split(".")[2], str(int(body.split(".")[2]) + 3600)),
        "other-key": forged,
        "garbage": "not-a-token",
    }
    for name, bad in cases.items():
        assert (await ack.acknowledge_link(conn, bad, SECRET, later)).outcome == "invalid", name
    assert (await ack.acknowledge_link(conn, token, SECRET, T0 + timedelta(hours=2))).outcome \
        == "expired"
    assert (await get_alert(conn, fp) or {})["acked_at"] is None
    assert (await ack.acknowledge_link(conn, token, SECRET, later)).outcome == "acked"
    assert (await ack.acknowledge_link(conn, token, SECRET, later)).outcome == "already_acked"
    assert (await acknowledge(conn, fp, "binh", later)).outcome == "already_acked"
    cur = await conn.execute("SELECT count(*) FROM alert_acks")
    assert await cur.fetchone() == (1,)
