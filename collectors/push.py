"""Push ingestion: what POST /api/v1/push calls to store samples a system sends.

Payload (JSON): `{"samples": [{"metric": "queue_depth", "labels": {"agency": "STP"},
"value": 12, "time": "2026-01-05T03:00:00Z"}, ...]}`; `time` is optional (default: now).
The whole payload is validated first; a bad one is refused with every problem listed and
nothing is stored, so the sender can fix it and resend. Storing goes through the collectors'
write path (exactly once: resending the same payload stores nothing twice), and each accepted
push is recorded as an ok probe result of the push target, so a system that stops pushing shows
as "no data" like any other target.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import psycopg

from collectors.model import Batch, ProbeResult, Sample, finite
from collectors.writepath import SeriesCache, write_batch
from ioc.config.targets import PushTarget

MAX_SAMPLES = 10_000
MAX_LABELS = 32
MAX_LABEL_VALUE = 256
MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(minutes=5)
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SHOWN = 10


class PushError(ValueError):
    """The payload is refused (HTTP 400); `problems` lists what is wrong, item by item."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:_SHOWN]
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        super().__init__("push refused: " + "; ".join(shown) + more)
        self.problems = problems


def parse_push(target: PushTarget, payload: Any, now: datetime) -> Batch:
    """Validate a payload into a batch (samples plus the push's probe result)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("samples"), list):
        raise PushError(['the body must be a JSON object {"samples": [...]}'])
    unknown = set(payload) - {"samples"}
    if unknown:
        raise PushError([f"unknown key {sorted(unknown)[0]!r} (only 'samples')"])
    items: list[Any] = payload["samples"]
    if not items:
        raise PushError(["'samples' is empty"])
    if len(items) > MAX_SAMPLES:
        raise PushError([f"{len(items)} samples in one push; send at most {MAX_SAMPLES}"])
    problems: list[str] = []
    samples = []
    for i, item in enumerate(items):
        sample = _sample(target, item, now, f"samples[{i}]", problems)
        if sample is not None:
            samples.append(sample)
    if problems:
        raise PushError(problems)
    result = ProbeResult(at=now, target_id=target.id, ok=True,
                         detail=f"push: {len(samples)} samples")
    return Batch([result], samples)


def _sample(target: PushTarget, item: Any, now: datetime, where: str,
            problems: list[str]) -> Sample | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object with metric, value, labels, time")
        return None
    extra = set(item) - {"metric", "value", "labels", "time"}
    if extra:
        problems.append(f"{where}: unknown key {sorted(extra)[0]!r}")
    metric = item.get("metric")
    if not isinstance(metric, str) or not _METRIC.fullmatch(metric):
        problems.append(f"{where}.metric: {metric!r} is not a metric name")
    elif not target.allows(metric):
        problems.append(f"{where}.metric: {metric!r} is not allowed for target {target.id} "
                        f"(allowed: {', '.join(target.metrics)})")
    value = finite(item.get("value")) if not isinstance(item.get("value"), str) else None
    if value is None:
        problems.append(f"{where}.value: {item.get('value')!r} is not a finite number")
    labels = _labels(item.get("labels", {}), where, problems)
    at = _time(item.get("time"), now, where, problems)
    if value is None or labels is None or at is None or not isinstance(metric, str):
        return None
    return Sample(at, metric, {**target.labels, **labels}, value, target.id)


def _labels(raw: Any, where: str, problems: list[str]) -> dict[str, str] | None:
    if not isinstance(raw, dict) or len(raw) > MAX_LABELS:
        problems.append(f"{where}.labels: must be an object of at most {MAX_LABELS} "
                        "name: text pairs")
        return None
    for name, value in raw.items():
        if not _LABEL.fullmatch(name):
            problems.append(f"{where}.labels: {name!r} is not a label name")
            return None
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE:
            problems.append(f"{where}.labels.{name}: must be text of at most "
                            f"{MAX_LABEL_VALUE} characters")
            return None
    return dict(raw)


def _time(raw: Any, now: datetime, where: str, problems: list[str]) -> datetime | None:
    if raw is None:
        return now
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"{where}.time: {raw!r} is not an RFC 3339 time")
        return None
    if at.tzinfo is None:
        problems.append(f"{where}.time: {raw!r} has no time zone (add Z)")
        return None
    if not now - MAX_AGE <= at <= now + MAX_AHEAD:
        problems.append(f"{where}.time: {raw!r} is more than 7 days old or 5 minutes ahead")
        return None
    return at


async def ingest(conn: psycopg.AsyncConnection, target: PushTarget, payload: Any, *,
                 now: datetime, series: SeriesCache | None = None) -> int:
    """Validate and store one push; returns the number of samples stored.

    `conn` is an autocommit connection to the IOC database (e.g. from the API's pool);
    `series` may be a long-lived cache shared across calls. Raises `PushError` (nothing
    stored) for a bad payload; database errors propagate (the API answers 503, retry later).
    """
    batch = parse_push(target, payload, now)
    await write_batch(conn, batch, series or SeriesCache(), collector="push")
    return len(batch.samples)
