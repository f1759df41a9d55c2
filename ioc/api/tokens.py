"""API tokens: creation, lookup by hash, listing and revocation (shared by the API and the CLI)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

import psycopg
from psycopg.rows import dict_row

Role = Literal["viewer", "operator", "admin", "ingest", "metrics"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "ioc_"
# Writing last_used_at on every request would turn each read into a write; a minute is plenty.
TOUCH_EVERY = timedelta(seconds=60)
_COLUMNS = "id, name, role, hash, created_at, revoked_at, last_used_at"


class TokenError(ValueError):
    """A token operation was refused (bad role, duplicate name, unknown token)."""


@dataclass(frozen=True)
class Token:
    """A stored token (never the secret itself)."""

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_secret() -> str:
    """A fresh high-entropy token (256 bits), URL- and subprotocol-safe."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a token: hex sha256 (a token has enough entropy to need no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: dict[str, object]) -> Token:
    return Token(
        id=int(row["id"]),  # type: ignore[call-overload]
        name=str(row["name"]),
        role=row["role"],  # type: ignore[arg-type]
        created_at=row["created_at"],  # type: ignore[arg-type]
        revoked_at=row["revoked_at"],  # type: ignore[arg-type]
        last_used_at=row["last_used_at"],  # type: ignore[arg-type]
    )


async def create(conn: psycopg.AsyncConnection, name: str, role: str,
                 now: datetime) -> tuple[Token, str]:
    """Store a new token; returns it with its secret, which is never shown again."""
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise TokenError("a token needs a name, e.g. wall-1")
    secret = new_secret()
    async with conn.cursor(row_factory=dict_row) as cur:
        try:
            await cur.execute(
                f"INSERT INTO api_tokens (name, role, hash, created_at) VALUES (%s, %s, %s, %s) "
                f"RETURNING {_COLUMNS}",
                (name, role, hash_secret(secret), now),
            )
        except psycopg.errors.UniqueViolation:
            raise TokenError(f"a live token named {name!r} exists: revoke it or pick "
                             "another name") from None
        row = await cur.fetchone()
    assert row is not None
    return _token(row), secret


async def list_all(conn: psycopg.AsyncConnection, *, include_revoked: bool = False) -> list[Token]:
    """Tokens by id; revoked ones only on request."""
    where = "" if include_revoked else "WHERE revoked_at IS NULL"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_tokens {where} ORDER BY id")
        return [_token(r) for r in await cur.fetchall()]


async def revoke(conn: psycopg.AsyncConnection, ident: str | int, now: datetime) -> Token:
    """Revoke a live token by id or name; open websockets using it are closed at once."""
    by_id = isinstance(ident, int) or str(ident).isdigit()
    where = "id = %s" if by_id else "name = %s"
    value: object = int(ident) if by_id else ident
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"UPDATE api_tokens SET revoked_at = %s WHERE {where} AND revoked_at IS NULL "
            f"RETURNING {_COLUMNS}",
            (now, value),
        )
        row = await cur.fetchone()
        if row is None:
            raise TokenError(f"no live token {ident!r}")
        event = {"type": "token", "action": "revoked", "id": row["id"]}
        await cur.execute("SELECT pg_notify('ioc_events', %s)", (json.dumps(event),))
    return _token(row)


def plausible(secret: str) -> bool:
    """Whether `secret` could be a token at all (anything else needs no database lookup)."""
    return secret.startswith(PREFIX) and len(secret) <= 200


async def lookup(conn: psycopg.AsyncConnection, secret: str, now: datetime) -> Token | None:
    """The live token with this secret, or None; records when it was last used."""
    if not plausible(secret):
        return None
    digest = hash_secret(secret)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE hash = %s", (digest,))
        row = await cur.fetchone()
        # The index found the row by hash; compare again in constant time all the same.
        if row is None or not hmac.compare_digest(str(row["hash"]), digest):
            return None
        token = _token(row)
        if not token.active:
            return None
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
            await cur.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s",
                              (now, token.id))
    return token
