"""What a collection produces: a probe result (ok or a failure with a reason) and samples."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

Reason = Literal["timeout", "refused", "reset", "dns", "tls", "status", "condition", "garbage",
                 "oversized", "protocol", "error"]
"""Failure categories of `probe_results.reason` (docs/CONTRACTS.md)."""

REASONS: tuple[Reason, ...] = ("timeout", "refused", "reset", "dns", "tls", "status",
                               "condition", "garbage", "oversized", "protocol", "error")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CollectFailure(Exception):
    """A target could not be collected; carries the reason category stored with the result."""

    def __init__(self, reason: Reason, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail
        self.status_code = status_code


@dataclass(slots=True)
class ProbeResult:
    """One row of `probe_results`: a collection attempt of one target."""

    at: datetime
    target_id: str
    ok: bool
    reason: Reason | None = None
    status_code: int | None = None
    duration_ms: float | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    cert_days: float | None = None
    bytes: int | None = None
    detail: str | None = None


@dataclass(slots=True)
class Sample:
    """One metric value; `labels` identify the series together with `name`."""

    at: datetime
    name: str
    labels: dict[str, str]
    value: float
    target_id: str | None = None

    @property
    def series_key(self) -> tuple[str, str]:
        """(name, canonical labels JSON): the identity of the series in `series`."""
        return self.name, canonical_labels(self.labels)


@dataclass(slots=True)
class Outcome:
    """Everything one collection of one target produced."""

    result: ProbeResult | None
    """None when there is nothing to record because our side failed (no data, never "up")."""
    samples: list[Sample] = field(default_factory=list)
    lag_s: float = 0.0
    """How late the collection started against its schedule (not stored; self-metrics)."""


@dataclass(slots=True)
class Batch:
    """Rows written together in one transaction: results, samples and live status events."""

    results: list[ProbeResult] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    """JSON payloads for `NOTIFY ioc_events` (sent when the batch commits)."""

    def __len__(self) -> int:
        return len(self.results) + len(self.samples)

    def to_json(self) -> bytes:
        """A compact serialisation for the spool (times as integer microseconds)."""
        doc = {
            "r": [[_micros(r.at), r.target_id, r.ok, r.reason, r.status_code, r.duration_ms,
                   r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms, r.cert_days, r.bytes, r.detail]
                  for r in self.results],
            "s": [[_micros(s.at), s.name, s.labels, s.value, s.target_id] for s in self.samples],
            "e": self.events,
        }
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Batch:
        """The inverse of `to_json`."""
        doc: dict[str, Any] = json.loads(data)
        results = [ProbeResult(_from_micros(r[0]), *r[1:]) for r in doc["r"]]
        samples = [Sample(_from_micros(s[0]), s[1], s[2], s[3], s[4]) for s in doc["s"]]
        return cls(results, samples, list(doc["e"]))


def failed(target_id: str, now: datetime, failure: CollectFailure,
           duration_ms: float | None = None) -> Outcome:
    """The outcome of a collection that failed with a reason."""
    return Outcome(ProbeResult(at=now, target_id=target_id, ok=False, reason=failure.reason,
                               status_code=failure.status_code, duration_ms=duration_ms,
                               detail=failure.detail))


def canonical_labels(labels: dict[str, str]) -> str:
    """Labels as JSON with sorted keys: equal label sets give equal text."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def finite(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a number (or NaN/inf)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = float(value)
    except (ValueError, ArithmeticError):
        return None
    return number if math.isfinite(number) else None


def status_event(result: ProbeResult, system: str) -> str:
    """The `ioc_events` payload announcing that a target's ok-state changed."""
    return json.dumps({"type": "status", "target_id": result.target_id, "system": system,
                       "ok": result.ok, "reason": result.reason,
                       "at": result.at.isoformat()}, separators=(",", ":"))


def _micros(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)
