"""`ioc token create|list|revoke`: manage API bearer tokens (only their hashes are stored)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from ioc import db
from ioc.api import tokens
from ioc.settings import settings_or_exit


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    p = sub.add_parser("token", help="API tokens for wall screens, operators and pushing systems")
    tsub = p.add_subparsers(title="token commands", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="create a token and print it once")
    c.add_argument("--role", required=True, choices=tokens.ROLES,
                   help="viewer (wall, leaders), operator (ack, silence), admin (tokens, config), "
                   "ingest (push samples), metrics (scrape /metrics only)")
    c.add_argument("--name", required=True, help="who or what holds it, e.g. wall-1")
    c.set_defaults(func=cmd_create)
    ls = tsub.add_parser("list", help="list tokens (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked tokens")
    ls.set_defaults(func=cmd_list)
    r = tsub.add_parser("revoke", help="revoke a token by id or name (effective immediately)")
    r.add_argument("token", help="token id or name")
    r.set_defaults(func=cmd_revoke)


def _run(action: str, args: argparse.Namespace) -> int:
    url = settings_or_exit().database_url
    try:
        return asyncio.run(_dispatch(url, action, args))
    except tokens.TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


async def _dispatch(url: str, action: str, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    async with await db.connect_async(url) as conn:
        if action == "create":
            token, secret = await tokens.create(conn, args.name, args.role, now)
            print(secret)
            print(f"created token {token.id} {token.name!r} role={token.role}; "
                  "the secret above is shown only once", file=sys.stderr)
        elif action == "list":
            print(f"{'id':>4}  {'name':<24} {'role':<9} {'created':<20} {'last used':<20} state")
            for t in await tokens.list_all(conn, include_revoked=args.all):
                print(f"{t.id:>4}  {t.name:<24} {t.role:<9} {_when(t.created_at):<20} "
                      f"{_when(t.last_used_at):<20} {'live' if t.active else 'revoked'}")
        else:
            token = await tokens.revoke(conn, args.token, now)
            print(f"revoked token {token.id} {token.name!r}")
    return 0


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def cmd_create(args: argparse.Namespace) -> int:
    return _run("create", args)


def cmd_list(args: argparse.Namespace) -> int:
    return _run("list", args)


def cmd_revoke(args: argparse.Namespace) -> int:
    return _run("revoke", args)
