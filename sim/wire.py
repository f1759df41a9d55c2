"""How the simulator writes and reads values on the wire: RFC 3339 times and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def iso(at: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`, or None."""
    if at is None:
        return None
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.isoformat()[:-6] + "Z"


def parse_time(text: str, name: str) -> datetime:
    """Parse an RFC 3339 timestamp that must carry a time zone; ValueError says what is wrong."""
    try:
        at = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an RFC 3339 timestamp") from None
    if at.tzinfo is None:
        raise ValueError(f"{name}={text!r} has no time zone (add Z or +07:00)")
    return at.astimezone(UTC)


def dumps(data: Any) -> str:
    """Compact JSON that keeps Vietnamese text readable."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
