"""The notification inbox receives what the real notifiers send, checks the HMAC, escapes all."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from alerts.notify.base import Message, TransportError
from alerts.notify.email import Email
from alerts.notify.webhook import Webhook
from ioc.api.browser import BrowserError, Chromium
from ioc.config.channels import EmailChannel, WebhookChannel
from ioc.demo import plan_inbox
from ioc.inbox import Inbox, hooks_from_config
from ioc.settings import PROJECT_ROOT

SECRET = "inbox-test-secret"
EVIL = "<script>alert(1)</script>"
CONFIG = PROJECT_ROOT / "config"
ACK = "http://127.0.0.1:8080/api/v1/alerts/ack/fp1.1.1.mac"


def _event(target: str, fingerprint: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"key": f"{fingerprint}:1", "kind": "firing", "status": "firing", "level": 0,
            "fingerprint": fingerprint, "rule_id": "target-down", "rule": "Dịch vụ không phản hồi",
            "labels": {"system": "portal", "target": target}, "severity": "critical",
            "annotations": {"summary": f"{target} lỗi"}, "value": 0.0, "episode": 1,
            "firing_at": now.isoformat(), "started_at": (now - timedelta(minutes=1)).isoformat(),
            "resolved_at": None}


def _message(channel: str, *events: dict[str, Any]) -> Message:
    return Message(key=f"k-{channel}", channel=channel, recipient="", events=events,
                   ack_urls={ev["fingerprint"]: f"{ACK}{i}" for i, ev in enumerate(events)},
                   language="vi", sent_at=datetime.now(UTC))


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox(hooks={"/hooks/ioc": SECRET}, smtp_port=0)
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


async def _get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_signed_webhook_is_valid_and_a_forged_one_refused(inbox: Inbox) -> None:
    async with aiohttp.ClientSession() as session:
        good = Webhook(WebhookChannel.model_validate(
            {"name": "ops", "kind": "webhook", "url": inbox.url, "hmac_secret": SECRET}), session)
        msg = _message("ops", _event(EVIL, "fp-evil"), _event("portal-home", "fp-home"))
        await good.send(good.render(msg), msg)
        forged = Webhook(WebhookChannel.model_validate(
            {"name": "ops", "kind": "webhook", "url": inbox.url, "hmac_secret": "guess"}),
            session)
        with pytest.raises(TransportError, match="HTTP 401") as refused:
            await forged.send(forged.render(msg), msg)
        assert refused.value.permanent
    assert [d.hmac_ok for d in inbox.deliveries] == [True, False]
    assert [d.accepted for d in inbox.deliveries] == [True, False]
    assert inbox.statuses() == [("fp-evil", "firing"), ("fp-home", "firing")]
    assert inbox.deliveries[0].ack_links() == {f"{ACK}0": EVIL, f"{ACK}1": "portal-home"}

    status, page, headers = await _get(inbox.base_url + "/")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # escaped
    assert page.count("<script") == 1 and '<script src="/inbox.js" defer></script>' in page
    assert '<html lang="vi">' in page and "Hộp thư thông báo" in page
    assert "Hợp lệ" in page and "Sai hoặc thiếu: đã từ chối" in page
    assert f'href="{ACK}1"' in page and "Xác nhận: portal-home" in page
    status, script, headers = await _get(inbox.base_url + "/inbox.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "location.reload()" in script and "details[open]" in script
    _, english, _ = await _get(inbox.base_url + "/?lang=en")
    assert '<html lang="en">' in english and "Notification inbox" in english
    assert "Valid" in english and "Wrong or missing: refused" in english


async def test_email_arrives_with_its_subject_and_ack_link(inbox: Inbox) -> None:
    assert inbox.smtp_port
    channel = EmailChannel.model_validate(
        {"name": "oncall", "kind": "email", "host": "127.0.0.1", "port": inbox.smtp_port,
         "security": "none", "from": "canhbao@example.org", "to": ["truc@example.org"]})
    notifier = Email(channel)
    msg = _message("oncall", _event("portal-dossiers", "fp-dossiers"))
    await notifier.send(notifier.render(msg), msg)
    [mail] = inbox.deliveries
    assert mail.channel == "email" and mail.recipients == ("truc@example.org",)
    assert mail.subject == "[ĐANG CẢNH BÁO] Nghiêm trọng: portal-dossiers lỗi"
    assert mail.key == "k-oncall"
    assert mail.ack_links() == {f"{ACK}0": "portal-dossiers"}
    status, doc, _ = await _get(inbox.base_url + "/messages.json")
    assert status == 200 and '"channel": "email"' in doc and f'"{ACK}0"' in doc


async def test_an_unknown_path_or_a_body_that_is_not_json_is_refused(inbox: Inbox) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(inbox.base_url + "/other", data=b"{}") as r:
            assert r.status in (404, 405)
        async with s.post(inbox.url, data=b"not json") as r:
            assert r.status == 400
    assert inbox.deliveries == []
    _, page, _ = await _get(inbox.base_url + "/")
    assert "Chưa nhận được thông báo nào" in page


def test_the_demo_derives_the_inbox_ports_and_respects_the_users_servers() -> None:
    default = plan_inbox(18080, {})
    assert default.url == "http://127.0.0.1:18090/"
    assert default.argv == ("--http-port", "18090", "--smtp-port", "1025")
    assert default.env == {"IOC_WEBHOOK_URL": "http://127.0.0.1:18090/hooks/ioc",
                           "IOC_SMTP_HOST": "127.0.0.1", "IOC_SMTP_PORT": "1025"}
    moved = plan_inbox(20000, {})
    assert moved.argv == ("--http-port", "20010", "--smtp-port", "20011")
    assert moved.env["IOC_WEBHOOK_URL"] == "http://127.0.0.1:20010/hooks/ioc"
    assert moved.env["IOC_SMTP_PORT"] == "20011"
    real_smtp = plan_inbox(20000, {"IOC_SMTP_HOST": "smtp.sonha.gov.vn"})
    assert real_smtp.argv == ("--http-port", "20010")  # the page and the webhook only
    assert "IOC_SMTP_HOST" not in real_smtp.env and "IOC_SMTP_PORT" not in real_smtp.env
    assert real_smtp.own == ("IOC_SMTP_HOST",)
    own_hook = plan_inbox(20000, {"IOC_WEBHOOK_URL": "https://hooks.example.org/ioc"})
    assert "--no-webhook" in own_hook.argv and "IOC_WEBHOOK_URL" not in own_hook.env
    both = plan_inbox(20000, {"IOC_WEBHOOK_URL": "https://hooks.example.org/ioc",
                              "IOC_SMTP_PORT": "2525"})
    assert both.argv == () and both.url == "" and both.env == {}


def test_the_inbox_takes_the_webhook_secret_from_the_channel_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_inbox(20000, {})
    for name, value in plan.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IOC_WEBHOOK_SECRET", raising=False)
    assert hooks_from_config(CONFIG, "127.0.0.1", 20010) == {
        "/hooks/ioc": "demo-only-webhook-secret"}
    assert hooks_from_config(CONFIG, "127.0.0.1", 20011) == {}
    monkeypatch.setenv("IOC_WEBHOOK_SECRET", "the-users-own")
    assert hooks_from_config(CONFIG, "127.0.0.1", 20010) == {"/hooks/ioc": "the-users-own"}


def _across_reloads(browser: Chromium, expression: str, timeout_s: float) -> Any:
    """Poll a truthy value, tolerating the moments the page is between two documents."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(BrowserError):
            value = browser.evaluate(expression)
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"the page never showed {expression}")


@pytest.mark.slow
async def test_the_page_shows_a_new_notification_by_itself_in_chromium(inbox: Inbox) -> None:
    """The reload script runs under the page's CSP and brings in what arrived after opening."""
    opened, seen = threading.Event(), threading.Event()
    found: list[Any] = []

    def browse() -> None:
        with Chromium(1280, 800) as browser:
            browser.open(inbox.base_url + "/")
            browser.wait_for("document.querySelector('p.empty') !== null")
            opened.set()
            found.append(_across_reloads(
                browser, "document.querySelector('td.subject')?.textContent", 30))
            found.append(browser.evaluate("window.__csp"))
            seen.set()

    browsing = asyncio.create_task(asyncio.to_thread(browse))
    assert await asyncio.to_thread(opened.wait, 60)
    async with aiohttp.ClientSession() as session:
        hook = Webhook(WebhookChannel.model_validate(
            {"name": "ops", "kind": "webhook", "url": inbox.url, "hmac_secret": SECRET}), session)
        msg = _message("ops", _event("portal-home", "fp-home"))
        await hook.send(hook.render(msg), msg)
    await browsing
    assert seen.is_set()
    assert found == ["[ĐANG CẢNH BÁO] Nghiêm trọng: portal-home lỗi", []]
