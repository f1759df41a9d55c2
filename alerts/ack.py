"""Acknowledgement: by API or CLI, and by a signed, expiring one-click link in notifications.

A link names the alert and its firing episode, so it acknowledges that episode once and never a
later one. It is signed with HMAC-SHA256 under IOC_SECRET_KEY (ioc.settings); a tampered or
expired link is refused. Acknowledging stops repeats and escalation and is recorded (MTTA).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from psycopg import AsyncConnection

LINK_TTL = timedelta(hours=24)
ACK_PATH = "/api/v1/alerts/ack/"
"""Where the API serves the one-click link: GET {public_url}/api/v1/alerts/ack/{token}."""

Outcome = Literal["acked", "already_acked", "not_firing", "invalid", "expired"]


@dataclass(frozen=True)
class AckResult:
    """What an acknowledgement did; `message` is user-facing (Vietnamese, then English)."""

    outcome: Outcome
    fingerprint: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "acked"


_MESSAGES: dict[Outcome, str] = {
    "acked": "Đã xác nhận cảnh báo. / Alert acknowledged.",
    "already_acked": "Cảnh báo này đã được xác nhận trước đó. / Already acknowledged.",
    "not_firing": "Cảnh báo không còn hoạt động. / The alert is no longer firing.",
    "invalid": "Liên kết không hợp lệ. / Invalid link.",
    "expired": "Liên kết đã hết hạn. / The link has expired.",
}


def _result(outcome: Outcome, fingerprint: str = "") -> AckResult:
    return AckResult(outcome, fingerprint, _MESSAGES[outcome])


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), b"ack:" + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _unb64(text: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def sign(fingerprint: str, episode: int, expires_at: datetime, secret: str,
         to: str = "") -> str:
    """A token acknowledging this alert's episode until `expires_at`, naming whom the link was
    sent to (`to`, signed with the rest: the acknowledgement records that person)."""
    if not secret:
        raise ValueError("IOC_SECRET_KEY is empty: ack links cannot be signed")
    body = f"{fingerprint}.{episode}.{int(expires_at.timestamp())}"
    if to:
        body += f".{_b64(to)}"
    return f"{body}.{_mac(secret, body)}"


def link(public_url: str, fingerprint: str, episode: int, now: datetime, secret: str,
         ttl: timedelta = LINK_TTL, to: str = "") -> str:
    """The one-click URL put in notifications."""
    token = sign(fingerprint, episode, now + ttl, secret, to)
    return public_url.rstrip("/") + ACK_PATH + quote(token, safe=".")


def verify(token: str, secret: str, now: datetime) -> tuple[Outcome, str, int]:
    """(outcome, fingerprint, episode): 'acked' here means the token is genuine and current."""
    outcome, fingerprint, episode, _ = verify_to(token, secret, now)
    return outcome, fingerprint, episode


def verify_to(token: str, secret: str, now: datetime) -> tuple[Outcome, str, int, str]:
    """verify(), plus whom the link was sent to ('' for a link that does not say)."""
    parts = token.split(".")
    if len(parts) not in (4, 5) or not secret:
        return "invalid", "", 0, ""
    fingerprint, episode, expires, mac = *parts[:3], parts[-1]
    if not hmac.compare_digest(mac, _mac(secret, ".".join(parts[:-1]))):
        return "invalid", "", 0, ""
    to = _unb64(parts[3]) if len(parts) == 5 else ""
    if not (episode.isdigit() and expires.isdigit()) or to is None:
        return "invalid", "", 0, ""
    if now >= datetime.fromtimestamp(int(expires), UTC):
        return "expired", fingerprint, int(episode), to
    return "acked", fingerprint, int(episode), to


async def acknowledge(conn: AsyncConnection[Any], fingerprint: str, by: str, now: datetime,
                      *, via: Literal["api", "link", "cli"] = "api",
                      episode: int | None = None) -> AckResult:
    """Acknowledge a firing alert (its current episode, or only `episode` if given)."""
    if not by:
        raise ValueError("acknowledge() needs `by`: who acknowledges")
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(
            "UPDATE alerts SET acked_at = %s, acked_by = %s WHERE fingerprint = %s"
            " AND state = 'firing' AND acked_at IS NULL AND (%s::bigint IS NULL OR episode = %s)"
            " RETURNING episode, rule_id, labels, severity",
            (now, by, fingerprint, episode, episode))
        row = await cur.fetchone()
        if row is None:
            await cur.execute("SELECT state, acked_at, episode FROM alerts WHERE fingerprint = %s",
                              (fingerprint,))
            cur_row = await cur.fetchone()
            same = cur_row is not None and (episode is None or cur_row[2] == episode)
            if same and cur_row is not None and cur_row[0] == "firing" and cur_row[1]:
                return _result("already_acked", fingerprint)
            return _result("not_firing", fingerprint)
        await cur.execute("INSERT INTO alert_acks (fingerprint, episode, acked_at, acked_by, via)"
                          " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                          (fingerprint, row[0], now, by, via))
        # the alerts it mutes (inhibit_rules) are part of the same incident: covered too
        await cur.execute(
            "WITH covered AS (UPDATE alerts SET acked_at = %(now)s, acked_by = %(by)s"
            " WHERE inhibited_by = %(fp)s AND state = 'firing' AND acked_at IS NULL"
            " RETURNING fingerprint, episode)"
            " INSERT INTO alert_acks (fingerprint, episode, acked_at, acked_by, via)"
            " SELECT fingerprint, episode, %(now)s, %(by)s, %(via)s FROM covered"
            " WHERE episode IS NOT NULL ON CONFLICT DO NOTHING",
            {"now": now, "by": by, "fp": fingerprint, "via": via})
        payload = {"type": "alert", "event": "ack", "fingerprint": fingerprint,
                   "rule_id": row[1], "labels": row[2], "severity": row[3],
                   "acked_by": by, "at": now.isoformat()}
        await cur.execute("SELECT pg_notify('ioc_events', %s)",
                          (json.dumps(payload, ensure_ascii=False),))
    return _result("acked", fingerprint)


async def acknowledge_link(conn: AsyncConnection[Any], token: str, secret: str, now: datetime,
                           by: str = "link") -> AckResult:
    """Acknowledge through a one-click link: genuine, unexpired, for the episode it names; the
    acknowledgement records whom the link was sent to (else `by`)."""
    outcome, fingerprint, episode, to = verify_to(token, secret, now)
    if outcome != "acked":
        return _result(outcome, fingerprint)
    return await acknowledge(conn, fingerprint, to or by, now, via="link", episode=episode)
