"""Faults that can be injected into the simulated systems: their specs and the board of active ones.

A fault lasts `duration` of real (wall-clock) time and then ends by itself. HTTP faults act on
requests (optionally only those whose path starts with `endpoint`); model faults change what the
systems record or report. See docs/SIM_API.md for what each kind does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

System = Literal["portal", "payments", "documents"]
SYSTEMS: tuple[System, ...] = ("portal", "payments", "documents")
HTTP_KINDS = frozenset({"latency", "error_rate", "outage", "hang", "garbage", "oversized",
                        "slow_drip"})
RECON_KINDS = frozenset({"recon_missing", "recon_amount", "recon_duplicate", "recon_late"})
MAX_DURATION = timedelta(days=7)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: str | float | int) -> timedelta:
    """`30s`, `5m`, `1.5h`, `500ms`, `2d` or a number of seconds."""
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (write e.g. 500ms, 30s, 5m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    return timedelta(seconds=seconds)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: System
    duration: timedelta
    endpoint: str | None = None

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        if isinstance(value, timedelta):
            delta = value
        elif isinstance(value, str | int | float):
            delta = parse_duration(value)
        else:
            raise ValueError("duration must be text like '30s' or a number of seconds")
        if not timedelta(0) < delta <= MAX_DURATION:
            raise ValueError("duration must be more than 0 and at most 7d")
        return delta

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("endpoint is a path prefix and starts with '/', e.g. /api/stats")
        return value


class Latency(_Spec):
    """Adds at least `ms` to each response: fixed, or plus uniform/exponential `spread_ms`."""

    kind: Literal["latency"]
    ms: float = Field(ge=0, le=600_000)
    distribution: Literal["fixed", "uniform", "exponential"] = "fixed"
    spread_ms: float = Field(default=0, ge=0, le=600_000)


class ErrorRate(_Spec):
    """Answers a share `rate` of requests with HTTP `status` instead of the real response."""

    kind: Literal["error_rate"]
    rate: float = Field(default=1.0, gt=0, le=1)
    status: int = Field(default=503, ge=400, le=599)


class Outage(_Spec):
    """Closes the listening socket (connection refused) and drops open connections."""

    kind: Literal["outage"]


class Hang(_Spec):
    """Accepts requests and never answers; the connection is dropped when the fault ends."""

    kind: Literal["hang"]


class Garbage(_Spec):
    """Answers 200 with bytes that are not JSON."""

    kind: Literal["garbage"]


class Oversized(_Spec):
    """Answers 200 with a valid JSON body of `mb` megabytes."""

    kind: Literal["oversized"]
    mb: float = Field(default=16, gt=0, le=1024)


class SlowDrip(_Spec):
    """Sends the real body `chunk_bytes` at a time, every `interval_ms`."""

    kind: Literal["slow_drip"]
    chunk_bytes: int = Field(default=8, ge=1, le=65536)
    interval_ms: float = Field(default=200, ge=1, le=60_000)


class StuckQueue(_Spec):
    """Dossiers (or documents) stop progressing and pile up past their deadline."""

    kind: Literal["stuck_queue"]
    system: Literal["portal", "documents"]
    agency_code: str | None = None
    drain: timedelta = timedelta(hours=2)  # simulated time over which the backlog then clears

    @field_validator("drain", mode="before")
    @classmethod
    def _drain(cls, value: Any) -> timedelta:
        return parse_duration(value) if isinstance(value, str | int | float) else value


class StatsMismatch(_Spec):
    """The statistics total no longer equals the sum of its parts."""

    kind: Literal["stats_mismatch"]
    ratio: float = Field(default=0.03, ge=-1, le=10)


class NationalMismatch(_Spec):
    """The national portal's count differs from the local records by `ratio` of them."""

    kind: Literal["national_mismatch"]
    system: Literal["portal"]
    ratio: float = Field(default=0.05, ge=-1, le=10)


class _Recon(_Spec):
    system: Literal["payments"]
    side: Literal["intermediary", "treasury"] = "treasury"
    rate: float = Field(default=0.05, gt=0, le=1)
    date: dt.date | None = None  # only this business day's files (default: every file)


class ReconMissing(_Recon):
    kind: Literal["recon_missing"]


class ReconAmount(_Recon):
    kind: Literal["recon_amount"]
    amount_delta: int = -1_100


class ReconDuplicate(_Recon):
    kind: Literal["recon_duplicate"]
    side: Literal["intermediary", "treasury"] = "intermediary"


class ReconLate(_Recon):
    kind: Literal["recon_late"]
    days: int = Field(default=2, ge=1, le=60)


FaultSpec = Annotated[
    Latency | ErrorRate | Outage | Hang | Garbage | Oversized | SlowDrip | StuckQueue
    | StatsMismatch | NationalMismatch | ReconMissing | ReconAmount | ReconDuplicate | ReconLate,
    Field(discriminator="kind"),
]
FAULT_SPEC: TypeAdapter[FaultSpec] = TypeAdapter(FaultSpec)
KINDS = ("latency", "error_rate", "outage", "hang", "garbage", "oversized", "slow_drip",
         "stuck_queue", "stats_mismatch", "national_mismatch", *sorted(RECON_KINDS))


def parse_spec(data: Any) -> FaultSpec:
    """Validate a fault request; raises ValueError with a readable message."""
    if isinstance(data, dict) and data.get("kind") not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {data.get('kind')!r}")
    if isinstance(data, dict) and data.get("kind") == "outage" and data.get("endpoint"):
        raise ValueError("an outage closes the whole system's socket: leave out endpoint")
    try:
        return FAULT_SPEC.validate_python(data)
    except ValidationError as exc:
        raise ValueError("; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}"
            for e in exc.errors()
        )) from None


@dataclass(eq=False)
class Fault:
    """An injected fault and its life in wall-clock time."""

    id: str
    spec: FaultSpec
    started_at: datetime
    ends_mono: float
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def applies_to(self, system: str, path: str) -> bool:
        endpoint = self.spec.endpoint
        if self.spec.system != system:
            return False
        return endpoint is None or path == endpoint or path.startswith(endpoint.rstrip("/") + "/")

    def to_json(self, mono_now: float) -> dict[str, Any]:
        data = self.spec.model_dump(mode="json", exclude_none=True)
        data["duration"] = f"{self.spec.duration.total_seconds():g}s"
        return {
            "id": self.id,
            **data,
            "started_at": self.started_at.isoformat().replace("+00:00", "Z"),
            "ends_at": (self.started_at + self.spec.duration).isoformat().replace("+00:00", "Z"),
            "remaining_s": round(max(0.0, self.ends_mono - mono_now), 3),
        }


class FaultBoard:
    """The active faults; expired ones stop applying at once and are collected by `expire`."""

    def __init__(self, mono: Callable[[], float] = time.monotonic,
                 utcnow: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.mono = mono
        self._utcnow = utcnow
        self._faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(f"f{next(self._ids)}", spec, self._utcnow(),
                      self.mono() + spec.duration.total_seconds())
        self._faults[fault.id] = fault
        return fault

    def active(self) -> list[Fault]:
        now = self.mono()
        return [f for f in self._faults.values() if f.ends_mono > now]

    def matching(self, system: str, path: str) -> list[Fault]:
        """Active faults that act on this request."""
        if not self._faults:
            return []
        return [f for f in self.active() if f.applies_to(system, path)]

    def first(self, kind: str, system: str) -> Fault | None:
        return next((f for f in self.active() if f.spec.kind == kind and
                     f.spec.system == system), None)

    def of_kinds(self, kinds: frozenset[str], system: str) -> list[Fault]:
        return [f for f in self.active() if f.spec.kind in kinds and f.spec.system == system]

    def expire(self) -> list[Fault]:
        """Remove and return the faults whose time is up."""
        now = self.mono()
        return [self._pop(f.id) for f in list(self._faults.values()) if f.ends_mono <= now]

    def remove(self, fault_id: str) -> Fault | None:
        return self._pop(fault_id) if fault_id in self._faults else None

    def clear(self) -> list[Fault]:
        return [self._pop(fid) for fid in list(self._faults)]

    def _pop(self, fault_id: str) -> Fault:
        fault = self._faults.pop(fault_id)
        fault.ended.set()
        return fault
