"""Zalo OA and ZNS against a loopback server speaking their APIs: messages sent to a follower,
a group and a phone; the access token expiring in the middle of a delivery (renewed, the new
pair stored encrypted before the resend); a permanent error not retried; the rotated refresh
token kept across a restart; a spent refresh token refused; two senders renewing at once spend
one refresh token; secrets never in errors or logs."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg
import pytest
from aiohttp import web
from pydantic import TypeAdapter

from alerts.actions import list_notifications
from alerts.engine import Engine
from alerts.notify import Message, TransportError
from alerts.notify.zalo import Keys, TokenStore, Zalo, template_data
from alerts.oncall import person_recipients
from alerts.outbox import Outbox
from ioc.config.channels import Channel, ZaloOAChannel, ZaloZNSChannel, vn_phone
from tests.alerts.support import SECRET, add_target, down_rule, make_config, probe

APP_ID = "1234567890123456789"
APP_SECRET = "zalo-app-secret-Qw3rty"
SEED = "seed-refresh-token-0001"
CHANNEL = TypeAdapter(Channel)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class ZaloServer:
    """OAuth v4, OA API v3 (cs and group messages) and ZNS on 127.0.0.1, as Zalo answers.

    Refresh tokens work once; access tokens are valid until `expire()`; `fail` holds error
    codes to answer the next message requests with; `on_message(token)` runs before a message
    request is answered (the test looks at the database there).
    """

    refresh_valid: set[str] = field(default_factory=lambda: {SEED})
    refresh_spent: set[str] = field(default_factory=set)
    access_valid: set[str] = field(default_factory=set)
    issued: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    messages: list[tuple[str, str, dict[str, Any], int]] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)
    echo_token_in_errors: bool = False
    on_message: Callable[[str], Awaitable[None]] | None = None
    url: str = ""
    _runner: web.AppRunner | None = None
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_post("/v3.0/oa/message/cs", self._message)
        app.router.add_post("/v3.0/oa/group/message", self._message)
        app.router.add_post("/message/template", self._message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def expire(self) -> None:
        """Every access token issued so far stops working (its 25 hours are over)."""
        self.access_valid.clear()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid app_id or "
                                      "secret_key"})
        token = str(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or token not in self.refresh_valid:
            self.refused.append(token)
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "Refresh token is invalid or was "
                                      "already used"})
        self.refresh_valid.discard(token)
        self.refresh_spent.add(token)
        n = next(self._serial)
        access, refresh = f"access-{n}-Zx9vLq", f"refresh-{n}-Pp7mKd"
        self.access_valid.add(access)
        self.refresh_valid.add(refresh)
        self.issued.append((access, refresh))
        await asyncio.sleep(0.05)  # long enough for a second sender to come and wait
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": "90000"})

    async def _message(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        assert request.content_type == "application/json"
        body = await request.json()
        zns = request.path == "/message/template"
        if request.path.endswith("/cs"):
            assert set(body) == {"recipient", "message"} and "user_id" in body["recipient"]
        elif request.path.endswith("/group/message"):
            assert set(body) == {"recipient", "message"} and "group_id" in body["recipient"]
        else:
            assert set(body) == {"phone", "template_id", "template_data", "tracking_id"}
            assert re.fullmatch(r"84\d{9}", body["phone"])
        if self.on_message is not None:
            await self.on_message(token)
        if token not in self.access_valid:
            code = -124 if zns else -216
            self.messages.append((request.path, token, body, code))
            return web.json_response({"error": code, "message": "Access token is invalid"})
        if self.fail:
            code = self.fail.pop(0)
            self.messages.append((request.path, token, body, code))
            text = f"failed for {token}" if self.echo_token_in_errors else "failed"
            return web.json_response({"error": code, "message": text})
        self.messages.append((request.path, token, body, 0))
        data = ({"msg_id": f"zns-{len(self.messages)}", "sent_time": "1700000000000"} if zns
                else {"message_id": f"m{len(self.messages)}"})
        return web.json_response({"error": 0, "message": "Success", "data": data})

    def sent(self) -> list[tuple[str, dict[str, Any]]]:
        return [(path, body) for path, _, body, code in self.messages if code == 0]


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloServer]:
    server = ZaloServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def store_db(conn: psycopg.AsyncConnection) -> psycopg.AsyncConnection:
    await conn.execute("TRUNCATE channel_credentials")
    return conn


def oa_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "oncall-zalo", "kind": "zalo_oa", "app_id": APP_ID, "secret_key": APP_SECRET,
            "refresh_token": SEED, "oauth_url": url + "/v4/oa/access_token",
            "api_base_url": url, "user_ids": ["8102345678901234567"],
            "group_ids": ["f414c8f76fa586fbdfb4"], **extra}


def zns_config(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "oncall-zns", "kind": "zalo_zns", "app_id": APP_ID, "secret_key": APP_SECRET,
            "refresh_token": SEED, "oauth_url": url + "/v4/oa/access_token",
            "api_url": url + "/message/template", "template_id": "312456",
            "params": {"tieu_de": "summary", "muc_do": "severity", "he_thong": "system",
                       "thoi_gian": "since", "xac_nhan": "ack_url", "doi_tuong": "labels.target"},
            "phones": ["0912 345 678"], **extra}


def oa(url: str, session: aiohttp.ClientSession, store: TokenStore | None,
       **extra: Any) -> Zalo:
    channel = CHANNEL.validate_python(oa_config(url, **extra))
    assert isinstance(channel, ZaloOAChannel)
    return Zalo(channel, session, store)


def event(now: datetime) -> dict[str, Any]:
    return {"key": "fp1:7:oncall-zalo:", "kind": "firing", "status": "firing",
            "fingerprint": "fp1", "rule_id": "portal-down", "rule": "Cổng DVC không phản hồi",
            "severity": "critical", "labels": {"system": "portal", "target": "portal-home"},
            "annotations": {"summary": "Cổng DVC không phản hồi",
                            "description": "3 lần thăm dò liên tiếp thất bại."},
            "value": 0.0, "level": 0, "episode": 7, "started_at": now.isoformat(),
            "firing_at": now.isoformat(), "resolved_at": None}


def message(now: datetime, key: str = "fp1:7:oncall-zalo:", recipient: str = "") -> Message:
    return Message(key=key, channel="oncall-zalo", recipient=recipient, events=(event(now),),
                   ack_urls={"fp1": "http://ioc.local/api/v1/alerts/ack/tok-1"}, language="vi",
                   sent_at=now, public_url="http://ioc.local")


async def deliver(notifier: Zalo, msg: Message) -> None:
    await notifier.send(notifier.render(msg), msg)


async def stored_row(conn: psycopg.AsyncConnection, name: str = "oncall-zalo") -> tuple[Any, ...]:
    cur = await conn.execute("SELECT access_token, refresh_token, expires_at, seed_digest"
                             " FROM channel_credentials WHERE name = %s", (name,))
    row = await cur.fetchone()
    assert row is not None
    return tuple(row)


def decrypt(name: str, sealed: bytes) -> str:
    return Keys.derive(SECRET).open(name, sealed)


# --- render (pure) -----------------------------------------------------------------------------

def test_oa_text_is_vietnamese_with_the_ack_link_and_zns_params_follow_the_mapping() -> None:
    now = datetime.now(UTC)
    sender = oa("http://zalo.test", None, None)  # type: ignore[arg-type]
    payload = sender.render(message(now))
    assert [r.target for r in payload.requests] == ["user:8102345678901234567",
                                                    "group:f414c8f76fa586fbdfb4"]
    assert payload.requests[0].url == "http://zalo.test/v3.0/oa/message/cs"
    assert payload.requests[1].url == "http://zalo.test/v3.0/oa/group/message"
    text = payload.requests[1].body["message"]["text"]
    assert text.startswith("[ĐANG CẢNH BÁO] Nghiêm trọng: Cổng DVC không phản hồi\n")
    assert "Xác nhận đã tiếp nhận: http://ioc.local/api/v1/alerts/ack/tok-1" in text
    assert "(giờ Việt Nam)" in text
    channel = CHANNEL.validate_python(zns_config("http://zalo.test"))
    assert isinstance(channel, ZaloZNSChannel)
    data = template_data(channel, message(now))
    assert data["muc_do"] == "Nghiêm trọng" and data["he_thong"] == "portal"
    assert data["doi_tuong"] == "portal-home" and data["xac_nhan"].endswith("/ack/tok-1")
    assert data["thoi_gian"].endswith("(giờ Việt Nam)")


def test_phones_are_normalised_and_the_rota_reaches_people_at_their_mobile() -> None:
    assert vn_phone("0912 345 678") == vn_phone("+84 912.345.678") == "84912345678"
    assert vn_phone("0243 826 1234") is None  # a desk phone: ZNS needs a mobile
    cfg = make_config(
        channels=[zns_config("http://zalo.test")],
        oncall={"people": [{"id": "an-nv", "name": "Nguyễn Văn An", "phone": "091 234 5601"}],
                "rotations": [{"id": "p", "name": "Trực", "participants": ["an-nv"],
                               "start": "2025-01-06"}]})
    [to] = person_recipients(cfg, cfg.oncall.person("an-nv"), ("oncall-zns",), 1)
    assert (to.channel, to.recipient, to.person) == ("oncall-zns", "84912345601", "an-nv")


# --- send --------------------------------------------------------------------------------------

async def test_oa_message_reaches_the_follower_and_the_group(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection,
        session: aiohttp.ClientSession) -> None:
    sender = oa(zalo.url, session, TokenStore(store_db, SECRET))
    await deliver(sender, message(datetime.now(UTC)))
    assert zalo.issued and zalo.refresh_spent == {SEED}  # seeded from the config, renewed once
    [(cs, to_user), (group, to_group)] = zalo.sent()
    assert (cs, group) == ("/v3.0/oa/message/cs", "/v3.0/oa/group/message")
    assert to_user["recipient"] == {"user_id": "8102345678901234567"}
    assert to_group["recipient"] == {"group_id": "f414c8f76fa586fbdfb4"}
    assert "Cổng DVC không phản hồi" in to_group["message"]["text"]
    assert all(token == zalo.issued[0][0] for _, token, _, _ in zalo.messages)


async def test_zns_template_goes_to_the_phone_with_the_key_as_tracking_id(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection,
        session: aiohttp.ClientSession) -> None:
    channel = CHANNEL.validate_python(zns_config(zalo.url))
    assert isinstance(channel, ZaloZNSChannel)
    sender = Zalo(channel, session, TokenStore(store_db, SECRET))
    now = datetime.now(UTC)
    await deliver(sender, message(now, key="fp1:7:oncall-zns:84987654321",
                                  recipient="84987654321"))  # a person from the rota
    [(path, body)] = zalo.sent()
    assert path == "/message/template"
    assert body["phone"] == "84987654321" and body["template_id"] == "312456"
    assert body["tracking_id"] == "fp1:7:oncall-zns:84987654321"
    assert body["template_data"]["tieu_de"] == "Cổng DVC không phản hồi"
    # the channel's own message goes to its configured phones; an expired token is -124 there
    zalo.expire()
    await deliver(sender, message(now))
    assert [code for *_, code in zalo.messages] == [0, -124, 0]
    assert zalo.sent()[-1][1]["phone"] == "84912345678"


async def test_token_expires_mid_delivery_renewed_stored_encrypted_before_the_resend(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection,
        session: aiohttp.ClientSession) -> None:
    sender = oa(zalo.url, session, TokenStore(store_db, SECRET), group_ids=[])
    now = datetime.now(UTC)
    await deliver(sender, message(now, key="k1"))
    zalo.expire()  # Zalo ends the token before the 25 hours the store expects
    seen: list[tuple[str, tuple[Any, ...]]] = []

    async def look(token: str) -> None:  # what the database holds when a message arrives
        seen.append((token, await stored_row(conn2)))

    zalo.on_message = look
    await deliver(sender, message(now + timedelta(minutes=5), key="k2"))
    assert [code for *_, code in zalo.messages] == [0, -216, 0]
    assert len(zalo.issued) == 2 and zalo.refused == []
    new_access, new_refresh = zalo.issued[1]
    resend_token, row = seen[1]
    assert resend_token == new_access
    # the new pair was committed before the resend, and only its ciphertext is there
    assert decrypt("oncall-zalo", row[0]) == new_access
    assert decrypt("oncall-zalo", row[1]) == new_refresh
    for column in (row[0], row[1], row[3].encode()):
        assert new_refresh.encode() not in column and new_access.encode() not in column
        assert SEED.encode() not in column
    assert row[2] == now + timedelta(minutes=5) + timedelta(seconds=90000)
    cur = await store_db.execute(
        "SELECT has_table_privilege('ioc_grafana', 'channel_credentials', 'SELECT')")
    assert await cur.fetchone() == (False,)  # dashboards see no tokens, encrypted or not


async def test_the_rotated_refresh_token_is_kept_across_a_restart(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection, alerts_db: str,
        session: aiohttp.ClientSession) -> None:
    now = datetime.now(UTC)
    await deliver(oa(zalo.url, session, TokenStore(store_db, SECRET)), message(now, key="k1"))
    assert SEED in zalo.refresh_spent
    zalo.expire()
    # a new process: new connection, new notifier; the config still names the spent seed
    async with await psycopg.AsyncConnection.connect(alerts_db, autocommit=True) as fresh:
        restarted = oa(zalo.url, session, TokenStore(fresh, SECRET))
        await deliver(restarted, message(now + timedelta(hours=1), key="k2"))
    assert zalo.refused == []  # the seed was not offered again
    assert len(zalo.issued) == 2 and zalo.sent()[-1][1]["recipient"] == {
        "group_id": "f414c8f76fa586fbdfb4"}
    # a new refresh_token in the config re-seeds the store
    zalo.refresh_valid.add("operator-new-seed-77")
    zalo.expire()
    reseeded = oa(zalo.url, session, TokenStore(store_db, SECRET),
                  refresh_token="operator-new-seed-77")
    await deliver(reseeded, message(now + timedelta(hours=2), key="k3"))
    assert "operator-new-seed-77" in zalo.refresh_spent and zalo.refused == []


async def test_a_spent_refresh_token_is_refused_and_the_error_names_no_secret(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection,
        session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    zalo.refresh_valid.clear()
    zalo.refresh_spent.add(SEED)  # someone used the config's token already
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TransportError) as caught:
        await deliver(oa(zalo.url, session, TokenStore(store_db, SECRET)),
                      message(datetime.now(UTC)))
    assert zalo.refused == [SEED] and zalo.messages == []
    assert not caught.value.permanent  # waits for an operator's new refresh_token
    assert "error -14014: Invalid refresh token" in str(caught.value)
    for secret in (SEED, APP_SECRET, SECRET):
        assert secret not in str(caught.value) and secret not in caplog.text


async def test_permanent_error_fails_the_outbox_message_without_a_second_call(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection, conn2: psycopg.AsyncConnection,
        session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = make_config(rules=[down_rule()], channels=[oa_config(zalo.url, user_ids=[])],
                      routing={"channels": ["oncall-zalo"], "group_wait": "0s"})
    engine = Engine(store_db, cfg)
    await add_target(store_db, "portal-home")
    await probe(store_db, "portal-home", T0, ok=False)
    await engine.cycle(T0)
    outbox = Outbox(conn2, cfg, session, secret=SECRET)
    zalo.fail = [-224]
    zalo.echo_token_in_errors = True  # a server quoting the token back must not leak it
    assert await outbox.drain(T0) == {"failed": 1}
    assert await outbox.drain(T0 + timedelta(hours=1)) == {}
    assert [code for *_, code in zalo.messages] == [-224]
    [failed] = await list_notifications(store_db, state="failed")
    assert failed["attempts"] == 1
    assert failed["last_error"].startswith("group:f414c8f76fa586fbdfb4: Zalo error -224")
    assert "package lacks" in failed["last_error"]
    access, refresh = zalo.issued[0]
    for secret in (access, refresh, SEED, APP_SECRET):
        assert secret not in failed["last_error"] and secret not in caplog.text


async def test_a_rate_limit_is_retried_and_a_bad_recipient_is_not(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection,
        session: aiohttp.ClientSession) -> None:
    sender = oa(zalo.url, session, TokenStore(store_db, SECRET), group_ids=[])
    zalo.fail = [-32, -213]
    now = datetime.now(UTC)
    with pytest.raises(TransportError) as limited:
        await deliver(sender, message(now, key="k1"))
    assert not limited.value.permanent and "rate limited" in str(limited.value)
    with pytest.raises(TransportError) as stranger:
        await deliver(sender, message(now, key="k2"))
    assert stranger.value.permanent and "does not follow the OA" in str(stranger.value)


async def test_two_senders_renewing_at_once_spend_one_refresh_token(
        zalo: ZaloServer, store_db: psycopg.AsyncConnection, alerts_db: str,
        session: aiohttp.ClientSession) -> None:
    now = datetime.now(UTC)
    await deliver(oa(zalo.url, session, TokenStore(store_db, SECRET), group_ids=[]),
                  message(now, key="k0"))
    zalo.expire()
    async with await psycopg.AsyncConnection.connect(alerts_db, autocommit=True) as a, \
            await psycopg.AsyncConnection.connect(alerts_db, autocommit=True) as b:
        first = oa(zalo.url, session, TokenStore(a, SECRET), group_ids=[])
        second = oa(zalo.url, session, TokenStore(b, SECRET), group_ids=[])
        await asyncio.gather(deliver(first, message(now, key="k1")),
                             deliver(second, message(now, key="k2")))
    assert zalo.refused == [] and len(zalo.issued) == 2  # the seed's, then one renewal
    assert len(zalo.sent()) == 3
    row = await stored_row(store_db)
    assert decrypt("oncall-zalo", row[1]) == zalo.issued[1][1]


def test_the_payload_never_holds_the_app_secret() -> None:
    sender = oa("http://zalo.test", None, None)  # type: ignore[arg-type]
    rendered = json.dumps([r.body for r in sender.render(message(datetime.now(UTC))).requests])
    assert APP_SECRET not in rendered and SEED not in rendered
