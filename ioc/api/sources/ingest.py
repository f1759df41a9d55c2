"""Push ingestion through the collectors' write path (`collectors.push.ingest`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from collectors import push
from ioc.api.sources import tuple_rows
from ioc.config.model import ProvinceConfig
from ioc.config.targets import PushTarget


class NoPushTarget(LookupError):
    """No push target in the config names this token (HTTP 403)."""


class PushRefused(ValueError):
    """The payload was refused item by item (HTTP 422); nothing was stored."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:10]))
        self.problems = problems


def target_for(config: Callable[[], ProvinceConfig | None], token_name: str) -> PushTarget:
    """The push target whose `token_name` is this token's name."""
    cfg = config()
    for target in cfg.targets_of(PushTarget) if cfg is not None else []:
        if target.token_name == token_name:
            return target
    raise NoPushTarget(f"no push target in the config has token_name {token_name!r}")


async def ingest(conn: psycopg.AsyncConnection, target: PushTarget, payload: dict[str, Any],
                 now: datetime) -> int:
    """Validate and store one push for `target`; returns the samples stored."""
    try:
        async with tuple_rows(conn):
            return await push.ingest(conn, target, payload, now=now)
    except push.PushError as exc:
        raise PushRefused(exc.problems) from None
