"""Office hours, arrival profiles and sampling helpers shared by the simulated systems."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import accumulate
from random import Random
from typing import Generic, TypeVar

from sim.calendar import (
    VN_TZ,
    Holidays,
    add_working_days,
    local_date,
    local_time,
    working_days_between,
)

T = TypeVar("T")

# Office hours in local time: 07:30-11:30 and 13:30-17:00 (the usual provincial schedule).
MORNING = (7 * 60 + 30, 11 * 60 + 30)
AFTERNOON = (13 * 60 + 30, 17 * 60)
OFFICE_MINUTES = (MORNING[1] - MORNING[0]) + (AFTERNOON[1] - AFTERNOON[0])
CLOSING_HOUR = 17
_CLOSING = timedelta(hours=CLOSING_HOUR)

# Share of a working day's arrivals in each local hour: a morning peak, a smaller afternoon one,
# and online submissions through the evening and night.
WORKDAY_PROFILE = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 4.0, 12.0, 13.0, 11.0, 6.0,
    2.0, 5.0, 9.0, 9.0, 7.0, 3.0, 1.5, 1.5, 1.5, 1.2, 0.8, 0.4,
)
# Days offices are closed: a trickle of online submissions in the daytime and evening.
CLOSED_DAY_PROFILE = (
    0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.5, 1.8, 1.8, 1.5,
    1.2, 1.2, 1.5, 1.5, 1.5, 1.2, 1.0, 1.0, 1.0, 0.8, 0.5, 0.3,
)


def _normalised(profile: Sequence[float]) -> tuple[float, ...]:
    total = sum(profile)
    return tuple(w / total for w in profile)


WORKDAY_SHARE = _normalised(WORKDAY_PROFILE)
CLOSED_DAY_SHARE = _normalised(CLOSED_DAY_PROFILE)


class WorkTime:
    """Working-day and office-hour arithmetic with memoised calendar look-ups."""

    def __init__(self, holidays: Holidays) -> None:
        self.holidays = holidays
        self._working: dict[date, bool] = {}
        self._due: dict[tuple[date, int], date] = {}
        self._midnight: dict[date, datetime] = {}

    def is_working(self, day: date) -> bool:
        known = self._working.get(day)
        if known is None:
            known = self._working[day] = self.holidays.is_working_day(day)
        return known

    def add_days(self, day: date, n: int) -> date:
        """The n-th working day after `day` (memoised `add_working_days`)."""
        key = (day, n)
        due = self._due.get(key)
        if due is None:
            due = self._due[key] = add_working_days(day, n, self.holidays)
        return due

    def between(self, start: date, end: date) -> int:
        return working_days_between(start, end, self.holidays)

    def midnight(self, day: date) -> datetime:
        """The start of a local day, as a UTC timestamp (memoised)."""
        at = self._midnight.get(day)
        if at is None:
            at = self._midnight[day] = local_time(day, 0)
        return at

    def due_at(self, day: date) -> datetime:
        """The promised moment on a due date: the close of office hours."""
        return self.midnight(day) + _CLOSING

    def office_time(self, day: date, rng: Random) -> datetime:
        """A random moment within office hours on `day`."""
        minute = rng.uniform(0, OFFICE_MINUTES)
        morning = MORNING[1] - MORNING[0]
        start = MORNING[0] + minute if minute < morning else AFTERNOON[0] + minute - morning
        return self.midnight(day) + timedelta(seconds=int(start * 60))

    def office_after(self, at: datetime, rng: Random) -> datetime:
        """`at` when offices are open then, else a little after they next open."""
        day = local_date(at)
        minute = (at - self.midnight(day)).total_seconds() / 60
        if self.is_working(day):
            if MORNING[0] <= minute < MORNING[1] or AFTERNOON[0] <= minute < AFTERNOON[1]:
                return at
            if minute < MORNING[0]:
                return self._opening(day, MORNING[0], rng)
            if minute < AFTERNOON[0]:
                return self._opening(day, AFTERNOON[0], rng)
        return self._opening(self.add_days(day, 1), MORNING[0], rng)

    def _opening(self, day: date, minute: int, rng: Random) -> datetime:
        return self.midnight(day) + timedelta(seconds=int((minute + rng.uniform(0, 60)) * 60))

    def hour_share(self, hour_start: datetime) -> tuple[float, bool]:
        """The share of a day's volume due in this hour, and whether offices are open that day."""
        local = hour_start.astimezone(VN_TZ)
        working = self.is_working(local.date())
        profile = WORKDAY_SHARE if working else CLOSED_DAY_SHARE
        return profile[local.hour], working


def poisson(rng: Random, mean: float) -> int:
    """A Poisson-distributed count (normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Weighted(Generic[T]):
    """Fast repeated weighted choice among fixed items."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self._cum = list(accumulate(weights))
        self._total = self._cum[-1]

    def pick(self, rng: Random) -> T:
        return self.items[bisect_right(self._cum, rng.random() * self._total)]
