"""Webhook signatures cover a timestamp and the body: the documented receiver's check
(`verify_signature`, 5 minutes' tolerance) refuses a replayed request, a forged one and a
tampered one; end to end through a real receiver (the inbox the drill and the demo use)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from alerts.notify.base import Message, TransportError
from alerts.notify.webhook import (
    SIGNATURE_HEADER,
    TOLERANCE,
    SignatureError,
    Webhook,
    WebhookPayload,
    signature,
    verify_signature,
)
from ioc.config.channels import WebhookChannel
from ioc.inbox import Inbox

SECRET = "webhook-signing-secret"
PATH = "/hooks/ioc"


def _message(sent_at: datetime) -> Message:
    event = {"key": "fp-sig:1:ops:", "kind": "firing", "fingerprint": "fp-sig",
             "status": "firing", "severity": "critical", "rule_id": "portal-down",
             "rule": "Cổng không phản hồi", "labels": {"system": "portal"},
             "annotations": {"summary": "Cổng dịch vụ công không phản hồi"}, "value": 0,
             "level": 0, "episode": 1, "firing_at": sent_at.isoformat()}
    return Message(key="fp-sig:1:ops:", channel="ops", recipient="", events=(event,),
                   ack_urls={}, language="vi", sent_at=sent_at)


def _hook(url: str, session: Any, secret: str = SECRET) -> Webhook:
    return Webhook(WebhookChannel.model_validate(
        {"name": "ops", "kind": "webhook", "url": url, "hmac_secret": secret}), session)


def _signed(sent_at: datetime) -> WebhookPayload:
    return _hook("http://127.0.0.1:9/", None).render(_message(sent_at))


def test_the_documented_check_accepts_a_fresh_signature_and_refuses_a_replay() -> None:
    now = datetime.now(UTC)
    fresh = _signed(now)
    header = fresh.headers[SIGNATURE_HEADER]
    # The documented construction, written out: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">.
    stamp = int(now.timestamp())
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + fresh.body, hashlib.sha256)
    assert header == f"t={stamp},v1={mac.hexdigest()}"
    assert fresh.headers["Idempotency-Key"] == "fp-sig:1:ops:"
    verify_signature(SECRET, header, fresh.body, now)
    verify_signature(SECRET, header, fresh.body, now + TOLERANCE - timedelta(seconds=2))

    # The same request captured and replayed after the tolerance: refused.
    with pytest.raises(SignatureError, match="away from now"):
        verify_signature(SECRET, header, fresh.body, now + TOLERANCE + timedelta(seconds=2))
    # A request signed 10 minutes ago (byte for byte what was sent then) replayed now.
    old = _signed(now - timedelta(minutes=10))
    with pytest.raises(SignatureError, match="stale, replayed"):
        verify_signature(SECRET, old.headers[SIGNATURE_HEADER], old.body, now)
    # ... and with its timestamp rewritten to now, the MAC no longer matches.
    rewritten = old.headers[SIGNATURE_HEADER].replace(
        f"t={int((now - timedelta(minutes=10)).timestamp())}", f"t={stamp}")
    assert rewritten != old.headers[SIGNATURE_HEADER]
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, rewritten, old.body, now)
    # A timestamp from the future beyond the tolerance is refused too.
    ahead = _signed(now + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="away from now"):
        verify_signature(SECRET, ahead.headers[SIGNATURE_HEADER], ahead.body, now)


def test_forged_tampered_and_malformed_signatures_are_refused() -> None:
    now = datetime.now(UTC)
    good = _signed(now)
    header = good.headers[SIGNATURE_HEADER]
    forged = _hook("http://127.0.0.1:9/", None, "a-guessed-secret").render(_message(now))
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, forged.headers[SIGNATURE_HEADER], forged.body, now)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, header, good.body.replace(b"critical", b"info"), now)
    for bad in (None, "", "sha256=" + "0" * 64, "t=abc,v1=00", f"t={int(now.timestamp())}",
                "v1=00", f"t=1,t=2,v1={'0' * 64}"):
        with pytest.raises(SignatureError):
            verify_signature(SECRET, bad, good.body, now)
    # Key rotation: a header carrying the old and the new secret's MAC passes with either.
    rotated = header + "," + signature("old-secret", good.body, now).split(",")[1]
    verify_signature(SECRET, rotated, good.body, now)
    verify_signature("old-secret", rotated, good.body, now)


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox(hooks={PATH: SECRET})
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


async def test_the_receiver_accepts_a_delivery_and_refuses_its_replay(inbox: Inbox) -> None:
    url = inbox.url
    assert url.endswith(PATH)
    now = datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        hook = _hook(url, session)
        message = _message(now)
        await hook.send(hook.render(message), message)  # accepted (it raises otherwise)

        # What an eavesdropper captured ten minutes ago, replayed byte for byte.
        captured = hook.render(_message(now - timedelta(minutes=10)))
        async with session.post(url, data=captured.body, headers=captured.headers) as replay:
            assert replay.status == 401
            assert SIGNATURE_HEADER in (await replay.json())["error"]
        forged = _hook(url, session, "a-guessed-secret")
        with pytest.raises(TransportError, match="HTTP 401"):
            await forged.send(forged.render(message), message)
    assert [d.hmac_ok for d in inbox.deliveries] == [True, False, False]
    assert [d.accepted for d in inbox.deliveries] == [True, False, False]
