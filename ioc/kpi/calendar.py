"""The working-day calendar of Vietnam, loaded into `calendar_days` (the one source for SQL).

Weekends and public holidays (Tết and the Hùng Kings day on their lunar dates, 30/4, 1/5, 2/9 …)
come from the `holidays` package, with the days swapped by government decisions that it knows;
the config's `calendar:` section adds the bridge days off and make-up working days announced
each year, and overrides the package where they disagree.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import holidays as holidays_lib
import psycopg

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2040, 12, 31)


@dataclass(frozen=True)
class CalendarDay:
    """One date: whether public offices work, and why not (or why on a weekend)."""

    day: date
    working: bool
    reason: str | None


def build_calendar(first: date = FIRST_DAY, last: date = LAST_DAY, *,
                   days_off: Iterable[date] = (), working_days: Iterable[date] = ()
                   ) -> list[CalendarDay]:
    """Every date in [first, last] with its working status and reason."""
    years = range(first.year, last.year + 1)
    table = holidays_lib.country_holidays("VN", years=years, language="vi")
    package_working = set(getattr(table, "weekend_workdays", ()))
    extra_off, extra_working = set(days_off), set(working_days)
    out: list[CalendarDay] = []
    day = first
    while day <= last:
        out.append(_classify(day, table.get(day), day in package_working,
                             day in extra_off, day in extra_working))
        day += timedelta(days=1)
    return out


def _classify(day: date, holiday: str | None, package_working: bool, config_off: bool,
              config_working: bool) -> CalendarDay:
    if config_working:
        return CalendarDay(day, True, "ngày làm bù (cấu hình)")
    if config_off:
        return CalendarDay(day, False, "ngày nghỉ bù (cấu hình)")
    if holiday is not None:
        return CalendarDay(day, False, holiday)
    if package_working:
        return CalendarDay(day, True, "ngày làm bù")
    if day.weekday() >= 5:
        return CalendarDay(day, False, "cuối tuần")
    return CalendarDay(day, True, None)


def fingerprint(days: Sequence[CalendarDay]) -> str:
    """A digest of the calendar, to skip reloading an unchanged one."""
    data = json.dumps([(d.day.isoformat(), d.working, d.reason) for d in days])
    return hashlib.sha256(data.encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _built(first: date, last: date, days_off: frozenset[date], working_days: frozenset[date]
           ) -> tuple[tuple[CalendarDay, ...], str]:
    """The calendar and its fingerprint, built once per process for the same inputs (a sync
    that finds nothing changed costs a query, not 15,000 dates)."""
    days = build_calendar(first, last, days_off=days_off, working_days=working_days)
    return tuple(days), fingerprint(days)


def sync_calendar(conn: psycopg.Connection, *, days_off: Iterable[date] = (),
                  working_days: Iterable[date] = (), first: date = FIRST_DAY,
                  last: date = LAST_DAY) -> int:
    """Load the calendar into `calendar_days`; return the number of dates that changed.

    Unchanged calendars (same fingerprint) are not rewritten. Runs in one transaction.
    """
    days, digest = _built(first, last, frozenset(days_off), frozenset(working_days))
    source = f"holidays {holidays_lib.__version__} + config"
    with conn.transaction():
        row = conn.execute("SELECT fingerprint FROM calendar_meta").fetchone()
        if row is not None and row[0] == digest:
            return 0
        conn.execute("CREATE TEMP TABLE calendar_load (day date, working boolean, reason text) "
                     "ON COMMIT DROP")
        with conn.cursor().copy("COPY calendar_load FROM STDIN") as copy:
            for d in days:
                copy.write_row((d.day, d.working, d.reason))
        changed = conn.execute(
            """INSERT INTO calendar_days AS c (day, working, reason)
               SELECT day, working, reason FROM calendar_load
               ON CONFLICT (day) DO UPDATE SET working = EXCLUDED.working,
                                               reason = EXCLUDED.reason
               WHERE (c.working, c.reason) IS DISTINCT FROM (EXCLUDED.working, EXCLUDED.reason)"""
        ).rowcount
        conn.execute("SELECT ioc_calendar_reindex()")
        conn.execute(
            """INSERT INTO calendar_meta (id, source, fingerprint, loaded_at)
               VALUES (true, %s, %s, now())
               ON CONFLICT (id) DO UPDATE SET source = EXCLUDED.source,
                   fingerprint = EXCLUDED.fingerprint, loaded_at = EXCLUDED.loaded_at""",
            (source, digest))
    return changed
