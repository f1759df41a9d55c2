"""Query parameters shared by the systems' APIs: time windows, record paging, cached statistics."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any

from sim.calendar import local_date, local_time
from sim.engine import ChangeLog
from sim.wire import parse_time

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000


def parse_window(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime]:
    """[from, to) from the query; by default from local midnight today to now (to the second)."""
    start = parse_time(query["from"], "from") if query.get("from") else local_time(
        local_date(now), 0)
    end = parse_time(query["to"], "to") if query.get("to") else now.replace(microsecond=0)
    if end < start:
        raise ValueError("to must not be before from")
    return start, end


def parse_limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}; got {raw!r}")
    return int(raw)


def records_page(log: ChangeLog, query: Mapping[str, str]) -> dict[str, Any]:
    """Records changed after `updated_since` (an RFC 3339 time or a cursor), oldest change first.

    `cursor` always says where to continue; `next` repeats it while more changes are waiting.
    """
    since = query.get("updated_since", "")
    limit = parse_limit(query)
    if not since:
        pos = 0
    elif since.startswith("p") and since[1:].isdigit():
        pos = int(since[1:])
        if pos > len(log):  # issued before this simulator (re)started: it has a new log
            pos = 0
    else:
        pos = log.position_after(parse_time(since, "updated_since"))
    items, pos, more = log.page(pos, limit)
    cursor = f"p{pos}"
    return {"items": [r.to_json() for r in items], "next": cursor if more else None,
            "cursor": cursor}


class StatsCache:
    """Keeps recent statistics answers; keys carry the model version, so stale ones never match."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: dict[Hashable, dict[str, Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        found = self._items.get(key)
        if found is None:
            if len(self._items) >= self._size:
                self._items.clear()
            found = self._items[key] = compute()
        return found
