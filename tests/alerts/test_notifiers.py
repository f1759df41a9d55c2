"""Notifiers: render is pure and says the right thing; send speaks each channel's protocol to a
real loopback server; error text never carries a secret (one case per channel)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from pydantic import TypeAdapter

from alerts.notify import NOTIFIERS, Message, TransportError
from ioc.config.channels import Channel
from tests.alerts.support import Receiver

AT = datetime(2026, 3, 2, 7, 5, tzinfo=UTC)
CHANNEL = TypeAdapter(Channel)


def event(status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {"key": "fp1:7:ch:", "kind": "firing", "status": status, "fingerprint": "fp1",
            "rule_id": "portal-submit-slow", "rule": "Nộp hồ sơ chậm", "severity": "critical",
            "labels": {"system": "portal", "target": "portal-dossier-submit",
                       "rule": "portal-submit-slow"},
            "annotations": {"summary": "Nộp hồ sơ chậm: p95 = 2450 ms",
                            "description": "Vượt 2 giây trong 5 phút."},
            "value": 2450.0, "level": 0, "episode": 7, "started_at": AT.isoformat(),
            "firing_at": AT.isoformat(),
            "resolved_at": AT.isoformat() if status == "resolved" else None, **extra}


def message(*events: dict[str, Any], recipient: str = "", language: str = "vi") -> Message:
    return Message(key="fp1:7:ch:", channel="ch", recipient=recipient,
                   events=events or (event(),),
                   ack_urls={"fp1": "http://ioc.local/api/v1/alerts/ack/tok"},
                   language=language, sent_at=AT, public_url="http://ioc.local")


def notifier(config: dict[str, Any], session: aiohttp.ClientSession | None = None) -> Any:
    channel = CHANNEL.validate_python(config)
    return NOTIFIERS[channel.kind](channel, session)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- render (pure) -----------------------------------------------------------------------------

def test_webhook_render_signs_the_timestamp_and_the_exact_body() -> None:
    hook = notifier({"name": "ch", "kind": "webhook", "url": "http://x.test/h",
                     "hmac_secret": "s3cret-key"})
    payload = hook.render(message())
    stamp = int(AT.timestamp())
    expected = hmac.new(b"s3cret-key", f"{stamp}.".encode() + payload.body,
                        hashlib.sha256).hexdigest()
    assert payload.headers["X-IOC-Signature"] == f"t={stamp},v1={expected}"
    assert payload.headers["Idempotency-Key"] == "fp1:7:ch:"
    doc = json.loads(payload.body)
    assert doc["title"] == "[ĐANG CẢNH BÁO] Nghiêm trọng: Nộp hồ sơ chậm: p95 = 2450 ms"
    assert doc["alerts"][0]["ack_url"] == "http://ioc.local/api/v1/alerts/ack/tok"
    assert hook.render(message()) == payload  # pure


def test_telegram_render_uses_the_persons_chat_and_escapes_html() -> None:
    bot = notifier({"name": "ch", "kind": "telegram", "bot_token": "1:x", "chat_id": "-100"})
    ev = event(annotations={"summary": "p95 <2 s> & more"})
    body = bot.render(message(ev, recipient="1001")).body
    assert body["chat_id"] == "1001" and body["parse_mode"] == "HTTP".replace("TTP", "TML")
    assert "p95 &lt;2 s&gt; &amp; more" in body["text"]
    assert '<a href="http://ioc.local/api/v1/alerts/ack/tok">Xác nhận đã tiếp nhận</a>' in \
        body["text"]
    assert "Bắt đầu: 14:05 02/03/2026 (giờ Việt Nam)" in body["text"]


def test_email_render_is_vietnamese_with_a_message_id_from_the_key() -> None:
    mail = notifier({"name": "ch", "kind": "email", "host": "127.0.0.1", "from": "a@b.vn",
                     "to": ["truc@sonha.gov.vn"]})
    payload = mail.render(message(event("resolved")))
    parsed = message_from_bytes(payload.message.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "[ĐÃ KHẮC PHỤC] Nghiêm trọng: Nộp hồ sơ chậm: p95 = 2450 ms"
    assert payload.message["Message-ID"] == mail.render(message()).message["Message-ID"]
    text = parsed.get_content()
    assert "Kết thúc: 14:05 02/03/2026 (giờ Việt Nam)" in text
    assert "Trung tâm Giám sát, điều hành thông minh (IOC)" in text
    english = mail.render(message(language="en")).message.as_bytes()
    assert message_from_bytes(english, policy=policy.default)["Subject"] == \
        "[FIRING] Critical: Nộp hồ sơ chậm: p95 = 2450 ms"


def test_alertmanager_render_sets_ends_at_by_status() -> None:
    am = notifier({"name": "ch", "kind": "alertmanager", "url": "http://am.test"})
    [firing] = am.render(message()).alerts
    [resolved] = am.render(message(event("resolved"))).alerts
    assert firing["labels"] == {"alertname": "portal-submit-slow", "severity": "critical",
                                "system": "portal", "target": "portal-dossier-submit",
                                "rule": "portal-submit-slow", "ioc_fingerprint": "fp1"}
    assert firing["endsAt"] > AT.isoformat()  # kept alive by repeats
    assert resolved["endsAt"] == AT.isoformat()
    assert firing["generatorURL"] == "http://ioc.local/alerts/fp1"


# --- send: protocols and secrets ----------------------------------------------------------------

async def test_telegram_sends_the_documented_bot_api_request(
        receiver: Receiver, session: aiohttp.ClientSession) -> None:
    bot = notifier({"name": "ch", "kind": "telegram", "bot_token": "42:ABC-token",
                    "chat_id": "-1009", "api_base_url": receiver.url}, session)
    msg = message()
    await bot.send(bot.render(msg), msg)
    [req] = receiver.requests
    assert req.path == "/bot42:ABC-token/sendMessage"
    assert req.headers["Content-Type"].startswith("application/json")
    body = req.json()
    assert set(body) == {"chat_id", "text", "parse_mode", "disable_web_page_preview"}
    assert body["chat_id"] == "-1009" and body["parse_mode"] == "HTML"
    assert body["text"].startswith("<b>[ĐANG CẢNH BÁO] Nghiêm trọng: Nộp hồ sơ chậm")


class Mailbox:
    """aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def refuse_login(server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=refuse_login,
                            auth_require_tls=False)
    controller.start()
    yield box, port
    controller.stop()


async def test_email_is_delivered_over_smtp(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    mail = notifier({"name": "ch", "kind": "email", "host": "127.0.0.1", "port": port,
                     "security": "none", "from": "canhbao@sonha.gov.vn",
                     "to": ["truc@sonha.gov.vn"]})
    msg = message(recipient="an.nv@sonha.gov.vn")
    await mail.send(mail.render(msg), msg)
    [envelope] = box.envelopes
    assert envelope.rcpt_tos == ["an.nv@sonha.gov.vn"]
    received = message_from_bytes(envelope.content, policy=policy.default)
    assert received["Subject"] == "[ĐANG CẢNH BÁO] Nghiêm trọng: Nộp hồ sơ chậm: p95 = 2450 ms"
    assert "Xác nhận đã tiếp nhận: http://ioc.local/api/v1/alerts/ack/tok" in \
        received.get_content()


SECRET_VALUE = "Sup3r-S3cret-Value-42"


def secret_channels(url: str, smtp_port: int) -> dict[str, dict[str, Any]]:
    return {
        "webhook": {"name": "ch", "kind": "webhook", "url": url + "/hook",
                    "hmac_secret": SECRET_VALUE, "headers": {"Authorization": SECRET_VALUE}},
        "telegram": {"name": "ch", "kind": "telegram", "bot_token": SECRET_VALUE,
                     "chat_id": "1", "api_base_url": url},
        "alertmanager": {"name": "ch", "kind": "alertmanager", "url": url, "username": "ioc",
                         "password": SECRET_VALUE},
        "email": {"name": "ch", "kind": "email", "host": "127.0.0.1", "port": smtp_port,
                  "security": "none", "username": "ioc", "password": SECRET_VALUE,
                  "from": "a@b.vn", "to": ["c@d.vn"]},
    }


@pytest.mark.parametrize("kind", ["webhook", "telegram", "alertmanager", "email"])
async def test_error_text_never_contains_a_secret(
        kind: str, receiver: Receiver, session: aiohttp.ClientSession,
        smtp: tuple[Mailbox, int]) -> None:
    # the server refuses and echoes what it was sent (a secret-leaking error page)
    receiver.status = 401
    receiver.answer = f"unauthorized: {SECRET_VALUE} Basic aW9jOlN1cDNy"
    refused = f"http://127.0.0.1:{free_port()}"
    errors = []
    for url, port in ((receiver.url, smtp[1]), (refused, free_port())):
        sender = notifier(secret_channels(url, port)[kind], session)
        msg = message()
        with pytest.raises(TransportError) as caught:
            await asyncio.wait_for(sender.send(sender.render(msg), msg), 15)
        errors.append(caught.value)
    auth_error, refused_error = errors
    assert auth_error.permanent and not refused_error.permanent
    for error in errors:
        assert SECRET_VALUE not in str(error) and SECRET_VALUE not in repr(error.args)
        # a logged traceback would print a chained exception (whose text may quote the URL)
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__
