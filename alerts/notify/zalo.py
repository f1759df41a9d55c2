"""Zalo: Official Account messages (OA API v3) and ZNS template messages by phone number.

Both APIs take the OA's access token in an `access_token` header and answer HTTP 200 with
`{"error": 0, ...}` on success, a negative `error` code otherwise. The token lasts about 25
hours; it is renewed at the OAuth v4 endpoint with a refresh token that works ONCE and comes
back with a new one. So the renewed pair is written to `channel_credentials` (encrypted,
committed) before either token is used, under a PostgreSQL advisory lock on the store's name so
that two `ioc alerts` processes never spend the same refresh token. A send answered "token
expired" (-216, ZNS -124) renews (unless another sender already did) and sends again, once.

Retry or not by the code: rate limits and unknown codes are retried (the outbox gives up after
its limit); a bad recipient, a feature the OA's package lacks (-224) or a template error is
permanent. Tokens and the app's secret key never appear in an error or a log line.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import AsyncConnection

from alerts.notify.base import Message, TransportError, post, scrub
from alerts.notify.email import body_text
from alerts.notify.text import local_time, number, title, words
from ioc.config.channels import ZaloAuth, ZaloOAChannel, ZaloZNSChannel

log = logging.getLogger(__name__)

MAX_TEXT = 2000
"""The OA API's limit for one text message."""
RENEW_BEFORE = timedelta(minutes=10)
"""A token this close to its end is renewed before use rather than sent to fail."""
LOCK_WAIT = timedelta(seconds=30)
"""How long a sender waits for another one renewing the same tokens."""

TOKEN_EXPIRED = frozenset({-216, -124})
"""Access token invalid or expired (OA API, ZNS): renew and send again."""
PERMANENT = {
    -201: "invalid parameters", -213: "the user does not follow the OA",
    -224: "the OA's package lacks this feature", -230: "the user has not interacted with the "
    "OA in the last 7 days", -108: "invalid phone number", -109: "invalid template id",
    -111: "template data empty", -112: "template data invalid", -118: "no Zalo account for "
    "this phone number", -119: "this account cannot receive ZNS", -131: "template not approved "
    "or not this OA's", -134: "the recipient's Zalo version is too old", -135: "the OA may not "
    "send ZNS",
}
"""Codes no retry can cure: the recipient, the template or the OA's package must change."""
RATE_LIMITED = frozenset({-32, -144})
"""Too many requests now (per minute, per day): retried later like any other transient code."""


# --- token storage -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Keys:
    """Keys derived from IOC_SECRET_KEY: one encrypts the tokens, one fingerprints the seed."""

    aead: AESGCM
    mac: bytes

    @classmethod
    def derive(cls, secret: str) -> Keys:
        if not secret:
            raise TransportError("IOC_SECRET_KEY is empty: Zalo tokens cannot be stored",
                                 permanent=True)

        def hkdf(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ioc-channel-credentials",
                        info=info).derive(secret.encode())

        return cls(AESGCM(hkdf(b"encrypt v1")), hkdf(b"seed digest v1"))

    def seal(self, name: str, plain: str) -> bytes:
        """Nonce + AES-GCM ciphertext, bound to the store's name."""
        nonce = os.urandom(12)
        return nonce + self.aead.encrypt(nonce, plain.encode(), name.encode())

    def open(self, name: str, sealed: bytes) -> str:
        try:
            return self.aead.decrypt(sealed[:12], sealed[12:], name.encode()).decode()
        except (InvalidTag, ValueError):
            raise TransportError(
                f"stored Zalo tokens of '{name}' cannot be decrypted (IOC_SECRET_KEY changed?):"
                " authorise the OA again and put the new refresh_token in the config",
                permanent=True) from None

    def digest(self, token: str) -> str:
        return hmac.new(self.mac, token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Stored:
    access_token: str | None
    refresh_token: str
    expires_at: datetime


class TokenStore:
    """The token pairs of Zalo channels, kept in `channel_credentials`.

    `conn` is an autocommit connection (it may be shared with the outbox: nothing here opens a
    transaction); every statement is durable when it returns.
    """

    def __init__(self, conn: AsyncConnection[Any], secret: str) -> None:
        self.conn = conn
        self.secret = secret
        self._keys: Keys | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def keys(self) -> Keys:
        if self._keys is None:
            self._keys = Keys.derive(self.secret)
        return self._keys

    async def _load(self, auth: ZaloAuth) -> Stored | None:
        """The stored pair, or None when there is none or the config holds a new seed."""
        cur = await self.conn.execute(
            "SELECT access_token, refresh_token, expires_at, seed_digest"
            " FROM channel_credentials WHERE name = %s", (auth.store,))
        row = await cur.fetchone()
        seed = auth.refresh_token.get_secret_value()
        if row is None or not hmac.compare_digest(row[3], self.keys.digest(seed)):
            return None
        access = self.keys.open(auth.store, row[0]) if row[0] is not None else None
        return Stored(access, self.keys.open(auth.store, row[1]), row[2])

    async def _save(self, auth: ZaloAuth, access: str | None, refresh: str,
                    expires_at: datetime) -> None:
        keys = self.keys
        await self.conn.execute(
            "INSERT INTO channel_credentials AS c (name, access_token, refresh_token, expires_at,"
            " seed_digest, updated_at) VALUES (%s, %s, %s, %s, %s, now())"
            " ON CONFLICT (name) DO UPDATE SET access_token = EXCLUDED.access_token,"
            " refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at,"
            " seed_digest = EXCLUDED.seed_digest, updated_at = now()",
            (auth.store, keys.seal(auth.store, access) if access is not None else None,
             keys.seal(auth.store, refresh), expires_at,
             keys.digest(auth.refresh_token.get_secret_value())))

    async def access_token(self, auth: ZaloAuth, session: aiohttp.ClientSession,
                           now: datetime) -> str:
        """A usable access token: the stored one, or a renewed one when it is (nearly) over."""
        stored = await self._load(auth)
        if stored is not None and stored.access_token and stored.expires_at > now + RENEW_BEFORE:
            return stored.access_token
        return await self.renew(auth, session, now, spent=None)

    async def renew(self, auth: ZaloAuth, session: aiohttp.ClientSession, now: datetime,
                    spent: str | None) -> str:
        """A new access token; `spent` is the one Zalo just refused (None: it ran out).

        Under the store's lock: when another sender renewed meanwhile, its token is used and
        no refresh token is spent.
        """
        lock = self._locks.setdefault(auth.store, asyncio.Lock())
        async with lock, self._advisory(auth.store):
            stored = await self._load(auth)
            if (stored is not None and stored.access_token
                    and stored.access_token != spent and stored.expires_at > now + RENEW_BEFORE):
                return stored.access_token
            if stored is None:
                seed = auth.refresh_token.get_secret_value()
                stored = Stored(None, seed, now)
                log.info("zalo %s: seeding the token store from the config", auth.store)
            access, refresh, lasts = await _refresh(auth, stored, session)
            try:
                await self._save(auth, access, refresh, now + lasts)
            except Exception:
                log.critical("zalo %s: the renewed tokens could not be stored; the spent refresh"
                             " token is gone: authorise the OA again", auth.store)
                raise
            log.info("zalo %s: access token renewed, valid %s", auth.store, lasts)
            return access

    def _advisory(self, name: str) -> _AdvisoryLock:
        return _AdvisoryLock(self.conn, f"ioc-channel-credentials:{name}")


class _AdvisoryLock:
    """A session advisory lock, taken by polling so a shared connection is never blocked."""

    def __init__(self, conn: AsyncConnection[Any], key: str) -> None:
        self.conn = conn
        self.key = key

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + LOCK_WAIT.total_seconds()
        while True:
            cur = await self.conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self.key,))
            row = await cur.fetchone()
            if row is not None and row[0]:
                return
            if loop.time() > until:
                raise TransportError("another sender has been renewing the Zalo tokens for "
                                     f"{LOCK_WAIT.total_seconds():.0f} s")
            await asyncio.sleep(0.1)

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))",
                                (self.key,))


async def _refresh(auth: ZaloAuth, stored: Stored,
                   session: aiohttp.ClientSession) -> tuple[str, str, timedelta]:
    """Spend the refresh token: (access token, next refresh token, how long the access lasts)."""
    secret = auth.secret_key.get_secret_value()
    secrets = [secret, stored.refresh_token, stored.access_token,
               auth.refresh_token.get_secret_value()]
    form = urlencode({"app_id": auth.app_id, "grant_type": "refresh_token",
                      "refresh_token": stored.refresh_token}).encode()
    answer = await post(session, auth.oauth_url, form,
                        headers={"secret_key": secret,
                                 "Content-Type": "application/x-www-form-urlencoded"},
                        limit_s=auth.timeout.total_seconds(),
                        secrets=secrets)
    doc = _json(answer)
    access, refresh = doc.get("access_token"), doc.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
        # not permanent: messages wait (up to the outbox's limit) for a new refresh_token
        raise TransportError(f"Zalo refused the refresh token ({_code_text(doc, secrets)}): "
                             "authorise the OA again and put the new refresh_token in the "
                             "config")
    try:
        lasts = timedelta(seconds=int(doc.get("expires_in", 90000)))
    except (TypeError, ValueError):
        lasts = timedelta(hours=25)
    return access, refresh, lasts


def _json(answer: str) -> dict[str, Any]:
    try:
        doc = json.loads(answer)
    except ValueError:
        raise TransportError("Zalo answered with something other than JSON") from None
    if not isinstance(doc, dict):
        raise TransportError("Zalo answered with something other than a JSON object")
    return doc


def _code_text(doc: Mapping[str, Any], secrets: Iterable[str | None]) -> str:
    """`error -216: Access token is invalid` from an answer (Zalo's words, secrets removed)."""
    name = doc.get("message") or doc.get("error_name") or doc.get("error_description") or ""
    name = scrub(" ".join(str(name).split())[:120], secrets)
    return f"error {doc.get('error')}" + (f": {name}" if name else "")


def zalo_error(doc: Mapping[str, Any], secrets: Iterable[str | None]) -> TransportError:
    """The error for an answer whose `error` is not 0, permanent or not by its code."""
    code = doc.get("error")
    text = _code_text(doc, secrets)
    if isinstance(code, int) and code in PERMANENT:
        return TransportError(f"Zalo {text} ({PERMANENT[code]})", permanent=True)
    if isinstance(code, int) and code in RATE_LIMITED:
        return TransportError(f"Zalo {text} (rate limited)")
    return TransportError(f"Zalo {text}")


# --- messages ----------------------------------------------------------------------------------

def message_text(message: Message) -> str:
    """The plain text of an OA message: an e-mail's body, under the title when it groups."""
    text = body_text(message)
    if len(message.events) > 1:
        text = f"{title(message)}\n\n{text}"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def template_data(channel: ZaloZNSChannel, message: Message) -> dict[str, str]:
    """The ZNS template's parameters, from the message's first event (ZNS wants no empties)."""
    ev = message.events[0]
    w = words(message.language)
    fields = {
        "title": title(message), "summary": ev["annotations"].get("summary") or ev["rule"],
        "severity": w.get(ev["severity"], ev["severity"]), "status": w[ev["status"]],
        "value": number(ev["value"]),
        "since": local_time(ev["firing_at"] or ev["started_at"], message.language),
        "system": ev["labels"].get("system", ""), "rule": ev["rule"],
        "ack_url": message.ack_urls.get(ev["fingerprint"], ""),
        "count": str(len(message.events)),
    }
    data = {}
    for param, field in channel.params.items():
        value = (ev["labels"].get(field[len("labels."):], "") if field.startswith("labels.")
                 else fields[field]) or "—"
        limit = channel.param_max_chars
        data[param] = value if len(value) <= limit else value[:limit - 1] + "…"
    return data


@dataclass(frozen=True)
class ZaloRequest:
    target: str
    """What it reaches, for logs and errors: user:<id>, group:<id>, phone:<84…>."""
    url: str
    body: dict[str, Any]


@dataclass(frozen=True)
class ZaloPayload:
    requests: tuple[ZaloRequest, ...]


class Zalo:
    """Notifier for `zalo_oa` and `zalo_zns` channels.

    A message with several destinations (users, groups, phones) is sent to each; a retry skips
    those this process already reached with the same message key.
    """

    DONE_KEPT = 1000

    def __init__(self, channel: ZaloOAChannel | ZaloZNSChannel, session: aiohttp.ClientSession,
                 store: TokenStore | None = None) -> None:
        self.channel = channel
        self.session = session
        self.store = store
        self._done: OrderedDict[str, set[str]] = OrderedDict()

    def render(self, message: Message) -> ZaloPayload:
        ch = self.channel
        if isinstance(ch, ZaloOAChannel):
            base = ch.api_base_url.rstrip("/")
            text = message_text(message)
            users = (message.recipient,) if message.recipient else ch.user_ids
            groups = () if message.recipient else ch.group_ids
            reqs = [ZaloRequest(f"user:{u}", f"{base}/v3.0/oa/message/cs",
                                {"recipient": {"user_id": u}, "message": {"text": text}})
                    for u in users]
            reqs += [ZaloRequest(f"group:{g}", f"{base}/v3.0/oa/group/message",
                                 {"recipient": {"group_id": g}, "message": {"text": text}})
                     for g in groups]
            return ZaloPayload(tuple(reqs))
        data = template_data(ch, message)
        phones = (message.recipient,) if message.recipient else ch.phones
        return ZaloPayload(tuple(
            ZaloRequest(f"phone:{p}", ch.api_url,
                        {"phone": p, "template_id": ch.template_id, "template_data": data,
                         "tracking_id": message.key})
            for p in phones))

    async def send(self, payload: ZaloPayload, message: Message) -> None:
        if self.store is None:
            raise TransportError("a Zalo channel needs the token store (the database)",
                                 permanent=True)
        if not payload.requests:
            raise TransportError(f"channel '{self.channel.name}' has no recipient",
                                 permanent=True)
        done = self._done.setdefault(message.key, set())
        self._done.move_to_end(message.key)
        while len(self._done) > self.DONE_KEPT:
            self._done.popitem(last=False)
        token = await self.store.access_token(self.channel, self.session, message.sent_at)
        for req in payload.requests:
            if req.target in done:
                continue
            doc = await self._call(req, token)
            if doc.get("error") in TOKEN_EXPIRED:
                log.info("zalo %s: access token refused (%s); renewing", self.channel.name,
                         _code_text(doc, self._secrets(token)))
                token = await self.store.renew(self.channel, self.session, message.sent_at,
                                               spent=token)
                doc = await self._call(req, token)
            if doc.get("error") != 0:
                exc = zalo_error(doc, self._secrets(token))
                raise TransportError(f"{req.target}: {exc}", permanent=exc.permanent)
            done.add(req.target)
        self._done.pop(message.key, None)

    def _secrets(self, token: str) -> list[str]:
        return [token, self.channel.secret_key.get_secret_value(),
                self.channel.refresh_token.get_secret_value()]

    async def _call(self, req: ZaloRequest, token: str) -> dict[str, Any]:
        body = json.dumps(req.body, ensure_ascii=False).encode()
        answer = await post(self.session, req.url, body,
                            headers={"access_token": token,
                                     "Content-Type": "application/json; charset=utf-8"},
                            limit_s=self.channel.timeout.total_seconds(),
                            secrets=self._secrets(token))
        return _json(answer)
