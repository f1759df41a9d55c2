"""The notification inbox: a webhook receiver that checks the HMAC, an SMTP server, and a page.

One piece of code for the drill and the demo. The drill runs it in-process on a free port and
reads `deliveries`; `ioc demo` runs it as a child process (`python -m ioc.inbox`) on ports derived
from `--sim-port-base`, so that the notifications of the demo's alert engine arrive somewhere a
newcomer can see them: `GET /` is a page (Vietnamese, `?lang=en` English) listing every message
with its time, channel, subject, alerts, HMAC verdict and one-click acknowledgement links, which
reloads itself every few seconds through a small static script (the CSP allows no inline one)
unless a message is open; `GET /messages.json` is the same as JSON.

The webhook side verifies `X-IOC-Signature` with the documented receiver's check
(alerts.notify.webhook.verify_signature: the MAC over timestamp and body, and a timestamp within
5 minutes): a missing, wrong or replayed signature is recorded and answered 401,
as a real receiver would. The SMTP side (aiosmtpd) accepts every message. Everything received is
untrusted text: the page escapes all of it and links only http(s) acknowledgement URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiosmtpd.smtp import SMTP as SMTPServer

from alerts.ack import ACK_PATH
from alerts.notify.webhook import SIGNATURE_HEADER, SignatureError, verify_signature
from ioc.api.csp import CSP

log = logging.getLogger("ioc.inbox")

PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
KEEP = 1000
"""Messages kept (the oldest are dropped first): the demo can run for days."""
REFRESH_S = 5
_ACK_URL = re.compile(r"https?://[^\s<>\"']+" + re.escape(ACK_PATH) + r"[^\s<>\"']+")
_TARGET = re.compile(r"\btarget=([^,\s]+)")


def _alert_name(ev: Mapping[str, Any]) -> str:
    labels = ev.get("labels")
    target = labels.get("target") if isinstance(labels, dict) else None
    return str(target or ev.get("rule_id") or "")

Channel = Literal["webhook", "email"]


@dataclass(frozen=True)
class Delivery:
    """One message the inbox received (accepted or refused)."""

    at: datetime
    key: str
    body: dict[str, Any]
    """The webhook's JSON document ({} for an e-mail)."""
    channel: Channel = "webhook"
    subject: str = ""
    text: str = ""
    """The e-mail's plain-text body."""
    hmac_ok: bool | None = None
    """Webhook signature: True valid, False missing or wrong (refused), None no secret set."""
    recipients: tuple[str, ...] = ()

    def events(self) -> list[dict[str, Any]]:
        """The alert events the webhook message carries (fingerprint, status, labels ...)."""
        return [ev for ev in self.body.get("alerts", []) if isinstance(ev, dict)]

    @property
    def accepted(self) -> bool:
        return self.hmac_ok is not False

    def ack_urls(self) -> list[str]:
        """The one-click acknowledgement links the message offers."""
        return list(self.ack_links())

    def ack_links(self) -> dict[str, str]:
        """Acknowledgement link -> what it acknowledges (the alert's target, else its rule)."""
        if self.channel == "webhook":
            return {str(ev["ack_url"]): _alert_name(ev) for ev in self.events()
                    if ev.get("ack_url")}
        links: dict[str, str] = {}
        start = 0
        for m in _ACK_URL.finditer(self.text):  # the event's text precedes its link
            target = _TARGET.findall(self.text, start, m.start())
            links[m.group()] = target[-1] if target else ""
            start = m.end()
        return links

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "channel": self.channel, "key": self.key,
                "subject": self.subject, "hmac_ok": self.hmac_ok, "accepted": self.accepted,
                "recipients": list(self.recipients), "alerts": self.events(),
                "text": self.text, "ack_urls": self.ack_urls()}


@dataclass
class Inbox:
    """Webhook receiver (`hooks`: path -> HMAC secret or None), optional SMTP server, page.

    Ports 0 pick free ones; `url` (the first hook's URL) and `smtp_port` are set once started.
    """

    hooks: Mapping[str, str | None] = field(default_factory=lambda: {"/hook": None})
    host: str = "127.0.0.1"
    http_port: int = 0
    smtp_port: int | None = None
    note: str = ""
    """What the page says about where notifications come from (plain text)."""
    deliveries: list[Delivery] = field(default_factory=list)
    url: str = ""
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _smtp: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=1 << 20)
        for path in self.hooks:
            app.router.add_post(path, self._webhook)
        app.router.add_get("/", self._page)
        app.router.add_get("/messages.json", self._json)
        app.router.add_get("/inbox.css", self._css)
        app.router.add_get("/inbox.js", self._js)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.http_port).start()
        self.http_port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.http_port}"
        self.url = self.base_url + next(iter(self.hooks), "")
        if self.smtp_port is not None:
            loop = asyncio.get_running_loop()
            handler = _SmtpHandler(self)
            self._smtp = await loop.create_server(
                lambda: SMTPServer(handler, hostname="ioc-inbox"), self.host, self.smtp_port)
            self.smtp_port = int(self._smtp.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
            self._smtp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def keep(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        del self.deliveries[:-KEEP]
        verdict = {True: "valid", False: "INVALID (refused)", None: "not signed"}[delivery.hmac_ok]
        log.info("received %s %s%s", delivery.channel, delivery.key or "(no key)",
                 f", HMAC {verdict}" if delivery.channel == "webhook" else "")

    def statuses(self) -> list[tuple[str, str]]:
        """(fingerprint, status) of every accepted webhook event, in order."""
        return [(str(ev.get("fingerprint")), str(ev.get("status")))
                for d in self.deliveries if d.accepted for ev in d.events()]

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body is not a JSON object"}, status=400)
        secret = self.hooks.get(request.path)
        ok: bool | None = None
        if secret is not None:
            try:
                verify_signature(secret, request.headers.get(SIGNATURE_HEADER), raw,
                                 datetime.now(UTC))
                ok = True
            except SignatureError as exc:
                ok = False
                log.warning("webhook refused: %s", exc)
        self.keep(Delivery(datetime.now(UTC), request.headers.get("Idempotency-Key", ""), body,
                           "webhook", str(body.get("title", "")), hmac_ok=ok))
        if ok is False:
            return web.json_response({"error": f"bad, stale or missing {SIGNATURE_HEADER}"},
                                     status=401)
        return web.json_response({"ok": True})

    async def _json(self, request: web.Request) -> web.Response:
        doc = {"webhook": self.url if self.hooks else None,
               "smtp": f"{self.host}:{self.smtp_port}" if self.smtp_port else None,
               "messages": [d.as_json() for d in self.deliveries]}
        return web.json_response(doc, headers={"Cache-Control": "no-store"})

    async def _css(self, request: web.Request) -> web.Response:
        return web.Response(text=CSS, content_type="text/css",
                            headers={"Cache-Control": "no-cache"})

    async def _js(self, request: web.Request) -> web.Response:
        return web.Response(text=JS, content_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})

    async def _page(self, request: web.Request) -> web.Response:
        lang = "en" if request.query.get("lang") == "en" else "vi"
        html = render_page(self, lang)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store",
                                     "X-Content-Type-Options": "nosniff",
                                     "Referrer-Policy": "no-referrer"})


class _SmtpHandler:
    """aiosmtpd handler: every message is kept."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        subject, text = "", ""
        if isinstance(msg, EmailMessage):
            subject = str(msg.get("Subject", ""))
            part = msg.get_body(preferencelist=("plain",))
            if isinstance(part, EmailMessage):
                text = str(part.get_content())
        self.inbox.keep(Delivery(datetime.now(UTC), str(msg.get("X-IOC-Idempotency-Key", "")),
                                 {}, "email", subject, text,
                                 recipients=tuple(envelope.rcpt_tos)))
        return "250 OK"


# ---- the page -------------------------------------------------------------------------------

WORDS = {
    "vi": {
        "title": "Hộp thư thông báo (bản demo)",
        "intro": "Những thông báo mà bộ cảnh báo của bản demo đã gửi: e-mail và webhook. "
                 "Trang tự làm mới sau mỗi {s} giây.",
        "other": "English",
        "webhook_on": "Webhook nhận tại {url} (kiểm tra chữ ký HMAC)",
        "webhook_off": "Webhook: không nhận ở đây",
        "smtp_on": "Máy chủ e-mail (SMTP) tại {addr}",
        "smtp_off": "E-mail: không nhận ở đây",
        "empty": "Chưa nhận được thông báo nào. Khi một cảnh báo phát ra (ví dụ sau khi gây "
                 "sự cố ngừng hoạt động cho cổng DVC), e-mail và webhook sẽ hiện ở đây.",
        "time": "Thời gian", "channel": "Kênh", "subject": "Tiêu đề / tóm tắt",
        "alert": "Cảnh báo", "hmac": "Chữ ký HMAC", "ack": "Xác nhận",
        "email": "E-mail", "webhook": "Webhook",
        "valid": "Hợp lệ", "invalid": "Sai hoặc thiếu: đã từ chối", "unsigned": "Không ký",
        "na": "—", "ack_link": "Xác nhận", "to": "Gửi tới",
        "body": "Nội dung", "firing": "ĐANG CẢNH BÁO", "resolved": "ĐÃ KHẮC PHỤC",
        "count": "{n} thông báo", "tz": "thời gian theo giờ Việt Nam",
    },
    "en": {
        "title": "Notification inbox (demo)",
        "intro": "The notifications the demo's alert engine has sent: e-mail and webhook. "
                 "The page refreshes every {s} seconds.",
        "other": "Tiếng Việt",
        "webhook_on": "Webhook received at {url} (HMAC signature checked)",
        "webhook_off": "Webhook: not received here",
        "smtp_on": "E-mail (SMTP) server at {addr}",
        "smtp_off": "E-mail: not received here",
        "empty": "No notification yet. When an alert fires (for instance after an outage of "
                 "the portal), the e-mail and the webhook appear here.",
        "time": "Time", "channel": "Channel", "subject": "Subject / summary",
        "alert": "Alert", "hmac": "HMAC signature", "ack": "Acknowledge",
        "email": "E-mail", "webhook": "Webhook",
        "valid": "Valid", "invalid": "Wrong or missing: refused", "unsigned": "Not signed",
        "na": "—", "ack_link": "Acknowledge", "to": "To",
        "body": "Message", "firing": "FIRING", "resolved": "RESOLVED",
        "count": "{n} notifications", "tz": "times in Vietnam time",
    },
}


def _t(text: object) -> str:
    return escape(str(text), quote=True)


def _local(at: datetime) -> str:
    return f"{at.astimezone(PROVINCE_TZ):%H:%M:%S %d/%m/%Y}"


def _link(url: str, label: str, what: str) -> str:
    if urlsplit(url).scheme not in ("http", "https"):
        return _t(url)
    text = f"{label}: {what}" if what else label
    return f'<a class="ack" href="{_t(url)}" rel="noreferrer">{_t(text)}</a>'


def _alert_cell(d: Delivery, w: Mapping[str, str]) -> str:
    if d.channel == "email":
        to = f'<div class="to">{_t(w["to"])}: {_t(", ".join(d.recipients))}</div>'
        return (f'{to}<details><summary>{_t(w["body"])}</summary>'
                f"<pre>{_t(d.text)}</pre></details>")
    items = []
    for ev in d.events():
        status = str(ev.get("status", ""))
        raw = ev.get("labels")
        labels: dict[str, Any] = raw if isinstance(raw, dict) else {}
        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "rule")
        items.append(f'<li><span class="st {_t(status)}">{_t(w.get(status, status))}</span> '
                     f'<b>{_t(ev.get("rule_id", ""))}</b> <span class="lb">{_t(shown)}</span>'
                     "</li>")
    return f'<ul>{"".join(items)}</ul>'


def _hmac_cell(d: Delivery, w: Mapping[str, str]) -> str:
    if d.channel == "email":
        return f'<span class="na">{_t(w["na"])}</span>'
    cls, word = {True: ("ok", "valid"), False: ("bad", "invalid"),
                 None: ("na", "unsigned")}[d.hmac_ok]
    return f'<span class="{cls}">{_t(w[word])}</span>'


def _row(d: Delivery, w: Mapping[str, str]) -> str:
    links = "".join(f"<li>{_link(u, w['ack_link'], what)}</li>"
                    for u, what in d.ack_links().items())
    links = f'<ul class="acks">{links}</ul>' if links else _t(w["na"])
    status = "firing" if any(ev.get("status") == "firing" for ev in d.events()) else ""
    if d.channel == "email" and d.ack_urls():
        status = "firing"
    return (f'<tr class="{status}"><td class="time">{_t(_local(d.at))}</td>'
            f'<td><span class="ch {d.channel}">{_t(w[d.channel])}</span></td>'
            f'<td class="subject">{_t(d.subject)}</td><td>{_alert_cell(d, w)}</td>'
            f"<td>{_hmac_cell(d, w)}</td><td>{links}</td></tr>")


def render_page(inbox: Inbox, lang: str) -> str:
    """The inbox page: newest message first, every received text escaped."""
    w = WORDS[lang]
    other = "?lang=en" if lang == "vi" else "?lang=vi"
    sides = [w["webhook_on"].format(url=inbox.url) if inbox.hooks else w["webhook_off"],
             w["smtp_on"].format(addr=f"{inbox.host}:{inbox.smtp_port}") if inbox.smtp_port
             else w["smtp_off"]]
    head = "".join(f"<th>{_t(w[k])}</th>" for k in
                   ("time", "channel", "subject", "alert", "hmac", "ack"))
    rows = "".join(_row(d, w) for d in reversed(inbox.deliveries))
    table = (f'<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>' if rows
             else f'<p class="empty">{_t(w["empty"])}</p>')
    note = f"<p>{_t(inbox.note)}</p>" if inbox.note else ""
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<script src="/inbox.js" defer></script>'
            f'<noscript><meta http-equiv="refresh" content="{REFRESH_S}"></noscript>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_t(w["title"])} · IOC</title><link rel="stylesheet" href="/inbox.css">'
            f'</head><body><header><h1>{_t(w["title"])}</h1>'
            f'<a class="lang" href="{other}">{_t(w["other"])}</a></header>'
            f'<p>{_t(w["intro"].format(s=REFRESH_S))}</p>'
            f'<ul class="sides">{"".join(f"<li>{_t(s)}</li>" for s in sides)}</ul>{note}'
            f'<p class="count">{_t(w["count"].format(n=len(inbox.deliveries)))} · '
            f'{_t(w["tz"])}</p>{table}</body></html>')


JS = f"""// New notifications: reload every {REFRESH_S} s, unless a message is open for reading.
setInterval(function () {{
  if (!document.querySelector("details[open]")) {{ window.location.reload(); }}
}}, {REFRESH_S * 1000});
"""

CSS = """
body { font: 15px/1.4 system-ui, "Segoe UI", Roboto, sans-serif; margin: 1.5rem;
       background: #0f1720; color: #e6edf3; }
header { display: flex; align-items: baseline; gap: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
a { color: #7cc4ff; }
.sides { color: #9fb0c0; margin: .25rem 0 1rem; padding-left: 1.2rem; }
.count, .empty { color: #9fb0c0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .45rem .6rem;
         border-bottom: 1px solid #2a3642; }
th { color: #9fb0c0; font-weight: 600; }
tr.firing td:first-child { border-left: 4px solid #e5534b; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td ul { margin: 0; padding: 0; list-style: none; }
.ch { padding: .1rem .45rem; border-radius: .3rem; background: #233140; white-space: nowrap; }
.st { font-weight: 700; }
.st.firing, .bad { color: #ff7b72; }
.st.resolved, .ok { color: #56d364; }
.na, .lb, .to { color: #9fb0c0; }
a.ack { display: inline-block; padding: .15rem .6rem; border-radius: .3rem; background: #1f6feb;
        color: #fff; text-decoration: none; white-space: nowrap; margin-bottom: .25rem; }
pre { white-space: pre-wrap; margin: .3rem 0 0; font-size: 13px; color: #c9d4df; }
summary { cursor: pointer; color: #9fb0c0; }
"""


# ---- the process `ioc demo` starts -----------------------------------------------------------

def hooks_from_config(config_dir: Path, host: str, port: int) -> dict[str, str | None]:
    """Path -> HMAC secret of every webhook channel of the config that points at host:port."""
    from ioc.config import load_config  # the drill passes its hooks itself
    from ioc.config.channels import WebhookChannel

    hooks: dict[str, str | None] = {}
    for channel in load_config(config_dir).channels:
        if not isinstance(channel, WebhookChannel):
            continue
        url = urlsplit(str(channel.url))
        if url.hostname == host and url.port == port:
            secret = channel.hmac_secret.get_secret_value() if channel.hmac_secret else None
            hooks[url.path or "/"] = secret
    return hooks


async def serve(inbox: Inbox) -> None:
    """Run until SIGTERM, SIGINT or SIGHUP."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    await inbox.start()
    log.info("inbox on %s (webhook paths %s, SMTP %s)", inbox.base_url,
             ", ".join(inbox.hooks) or "none", inbox.smtp_port or "off")
    try:
        await stop.wait()
    finally:
        await inbox.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ioc.inbox", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, required=True, help="page and webhook port")
    p.add_argument("--smtp-port", type=int, default=None, help="SMTP port (none: no SMTP)")
    p.add_argument("--no-webhook", action="store_true", help="do not receive webhooks")
    p.add_argument("--config", type=Path, default=None,
                   help="province config directory: the webhook channels pointing at this "
                        "inbox give the HMAC secrets (default IOC_CONFIG_DIR)")
    p.add_argument("--note", default="", help="a line shown on the page")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stdout)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: every SMTP command
    from ioc.config import ConfigError
    from ioc.settings import settings_or_exit

    hooks: dict[str, str | None] = {}
    if not args.no_webhook:
        config_dir = args.config or settings_or_exit().config_dir
        try:
            hooks = hooks_from_config(config_dir, args.host, args.http_port)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if not hooks:
            log.warning("no webhook channel in %s points at %s:%s: no webhook will arrive",
                        config_dir, args.host, args.http_port)
    inbox = Inbox(hooks, args.host, args.http_port, args.smtp_port, note=args.note)
    try:
        asyncio.run(serve(inbox))
    except OSError as exc:
        print(f"error: cannot listen ({exc.strerror or exc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
