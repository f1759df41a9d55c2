"""Working-day arithmetic for the simulated province: weekends and Vietnamese public holidays.

Self-contained on purpose: the official calendar of the operations centre lives in `ioc/`; this
one only has to give the simulator statutory deadlines that skip the days offices are closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

import holidays as holidays_lib

# Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed offset is exact.
VN_OFFSET = timedelta(hours=7)
VN_TZ = timezone(VN_OFFSET, "ICT")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Holidays:
    """Days offices are closed (public holidays and days off in lieu) and weekend days worked."""

    days_off: frozenset[date]
    make_up_days: frozenset[date] = frozenset()
    # Saturday and Sunday, as date.weekday() numbers.
    weekend: frozenset[int] = field(default=frozenset({5, 6}))

    def is_working_day(self, day: date) -> bool:
        """True when public offices are open on `day`."""
        if day in self.make_up_days:
            return True
        return day.weekday() not in self.weekend and day not in self.days_off


def vietnam_holidays(years: Iterable[int]) -> Holidays:
    """Vietnamese public holidays (Tết, Hùng Kings, 30/4, 1/5, 2/9 ...) for the given years.

    Lunar holidays and the government's day swaps (a Saturday worked in exchange for a bridge
    day off) come from the `holidays` package.
    """
    table = holidays_lib.country_holidays("VN", years=sorted(set(years)))
    return Holidays(
        days_off=frozenset(table.keys()),
        make_up_days=frozenset(getattr(table, "weekend_workdays", ())),
    )


def add_working_days(start: date, n: int, holidays: Holidays) -> date:
    """The date of the n-th working day after `start`.

    n = 0 gives `start` itself when it is a working day, else the next working day; this is the
    "promised return date" rule: a dossier received on day D with a deadline of n working days is
    due on the n-th working day after D.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = start
    if n == 0:
        while not holidays.is_working_day(day):
            day += ONE_DAY
        return day
    remaining = n
    while remaining:
        day += ONE_DAY
        if holidays.is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date, holidays: Holidays) -> int:
    """How many working days lie in (start, end]; 0 when end <= start."""
    count = 0
    day = start + ONE_DAY
    while day <= end:
        if holidays.is_working_day(day):
            count += 1
        day += ONE_DAY
    return count


def local_date(at: datetime) -> date:
    """The calendar date in Vietnam of an aware timestamp."""
    if at.tzinfo is UTC:  # the simulator's own timestamps: skip the slower conversion
        return (at + VN_OFFSET).date()
    return at.astimezone(VN_TZ).date()


def local_time(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware UTC timestamp for a wall-clock time in Vietnam on `day`."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - VN_OFFSET
    return midnight + timedelta(hours=hour, minutes=minute)
