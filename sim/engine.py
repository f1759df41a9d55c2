"""The event engine: each record carries a time-ordered plan of steps, applied as time passes.

A record's whole life is planned when it is created (from a seeded RNG, so a seed gives the same
province), but only steps whose time has come are applied: the state seen through the HTTP API is
always "as of the simulated now". Only a record's next step sits in the heap, so a stuck queue can
hold a record and later shift the rest of its plan without reordering anything.
"""

from __future__ import annotations

import heapq
import itertools
from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any, ClassVar

# (at, op, arg): at which simulated time, which operation, with what argument.
Step = tuple[datetime, int, Any]
_NO_STEPS: list[Step] = []


class Record:
    """Base of the simulated records: a plan, how far it has run, and when it last changed."""

    __slots__ = ("log_pos", "plan", "step", "updated_at")
    SYSTEM: ClassVar[str] = ""

    plan: list[Step]
    step: int
    updated_at: datetime
    log_pos: int

    def apply(self, op: int, at: datetime, arg: Any) -> None:
        """Apply one planned step to the record."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The record as the system's API shows it."""
        raise NotImplementedError


class ChangeLog:
    """Append-only log of record changes in time order, for `updated_since` paging.

    A record appears once per change; only its latest entry is current (`live` marks those), so
    paging skips the stale ones (at C speed) and a changed record reappears further on.
    """

    __slots__ = ("items", "live", "times")

    def __init__(self) -> None:
        self.times = array("d")
        self.items: list[Record] = []
        self.live = bytearray()

    def touch(self, rec: Record, at: datetime) -> None:
        if getattr(rec, "log_pos", None) is not None:
            self.live[rec.log_pos] = 0
        rec.updated_at = at
        rec.log_pos = len(self.items)
        self.items.append(rec)
        self.times.append(at.timestamp())
        self.live.append(1)

    def position_after(self, at: datetime) -> int:
        """The log position of the first change strictly after `at`."""
        return bisect_right(self.times, at.timestamp())

    def page(self, pos: int, limit: int) -> tuple[list[Record], int, bool]:
        """Up to `limit` current records from `pos` on, where to continue, and whether more wait."""
        out: list[Record] = []
        live, items = self.live, self.items
        while len(out) < limit:
            pos = live.find(1, pos)
            if pos < 0:
                return out, len(items), False
            out.append(items[pos])
            pos += 1
        return out, pos, live.find(1, pos) >= 0

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Hold:
    """A stuck queue: records of `system` (optionally one agency) make no progress while held."""

    id: str
    system: str
    agency_code: str | None = None

    def matches(self, rec: Record) -> bool:
        return rec.SYSTEM == self.system and (
            self.agency_code is None or getattr(rec, "agency_code", None) == self.agency_code
        )


class Engine:
    """Applies due steps in time order through `apply(rec, op, at, arg)`."""

    def __init__(self, apply: Callable[[Record, int, datetime, Any], None]) -> None:
        self._apply = apply
        # Keyed by POSIX seconds: float comparisons keep the heap cheap at province volumes.
        self._heap: list[tuple[float, int, Record]] = []
        self._seq = itertools.count()
        self.holds: list[Hold] = []
        self.deferred: list[Record] = []

    def schedule(self, rec: Record) -> None:
        """Queue the record's next step, if any."""
        if rec.step < len(rec.plan):
            at = rec.plan[rec.step][0].timestamp()
            heapq.heappush(self._heap, (at, next(self._seq), rec))

    def run_until(self, now: datetime) -> int:
        """Apply every step due at or before `now`; return how many were applied."""
        heap = self._heap
        applied = 0
        limit = now.timestamp()
        while heap and heap[0][0] <= limit:
            rec = heapq.heappop(heap)[2]
            # The first step (arrival) is the citizen's or sender's; a stuck queue holds the rest.
            if self.holds and rec.step > 0 and any(h.matches(rec) for h in self.holds):
                self.deferred.append(rec)
                continue
            at, op, arg = rec.plan[rec.step]
            rec.step += 1
            self._apply(rec, op, at, arg)
            applied += 1
            if rec.step < len(rec.plan):
                self.schedule(rec)
            else:
                rec.plan, rec.step = _NO_STEPS, 0  # a finished plan is not needed any more
        return applied

    def release(self, hold_id: str, at: datetime, drain: timedelta, rng: Random) -> int:
        """End a hold: its records resume over `drain` from `at`, keeping their step spacing."""
        self.holds = [h for h in self.holds if h.id != hold_id]
        still: list[Record] = []
        freed: list[Record] = []
        for rec in self.deferred:
            (still if any(h.matches(rec) for h in self.holds) else freed).append(rec)
        self.deferred = still
        span = max(drain.total_seconds(), 0.0)
        for rec in freed:
            resume_at = at + timedelta(seconds=round(rng.uniform(0.0, span)))
            shift = max(resume_at - rec.plan[rec.step][0], timedelta(0))
            rec.plan[rec.step:] = [(t + shift, op, arg) for t, op, arg in rec.plan[rec.step:]]
            self.schedule(rec)
        return len(freed)
