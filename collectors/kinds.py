"""The collector kinds behind one protocol, registered in an explicit dict by config `kind`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from collectors.fetch import HttpClient
from collectors.httpprobe import HttpProbe
from collectors.jsonpoll import JsonPoll
from collectors.model import Outcome
from collectors.promscrape import PrometheusScrape
from collectors.records import RecordsSync
from collectors.sqlquery import SqlQuery
from ioc.config.targets import TargetBase


class Collector(Protocol):
    """Collects one target once; a failure of the target is returned as data, never raised."""

    target: Any

    async def collect(self, now: datetime) -> Outcome: ...


@dataclass(frozen=True)
class Resources:
    """What kinds share: the HTTP client and, for `records`, the IOC database URL."""

    http: HttpClient
    database_url: str


Factory = Callable[[Any, Resources], Collector]

KINDS: dict[str, Factory] = {
    "http": lambda t, r: HttpProbe(t, r.http),
    "json": lambda t, r: JsonPoll(t, r.http),
    "prometheus": lambda t, r: PrometheusScrape(t, r.http),
    "sql": lambda t, r: SqlQuery(t),
    "records": lambda t, r: RecordsSync(t, r.http, r.database_url),
}
"""Kinds the scheduler runs; `push` targets are fed by the API (collectors.push.ingest)."""


def build(target: TargetBase, resources: Resources) -> Collector | None:
    """The collector for a target, or None for kinds that are not polled (push)."""
    factory = KINDS.get(getattr(target, "kind", ""))
    return factory(target, resources) if factory is not None else None


async def close(collector: Collector) -> None:
    """Release what a collector holds of its own (SQL and database connections)."""
    closer = getattr(collector, "close", None)
    if closer is not None:
        await closer()
