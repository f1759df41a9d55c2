"""ISO weeks in the province's time zone (Asia/Ho_Chi_Minh), as aware UTC windows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True)
class Week:
    """An ISO week: Monday 00:00 to the next Monday 00:00, local time."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """`2026-W47` -> Week; a clear ValueError otherwise."""
        m = _WEEK.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"week {text!r} is not an ISO week; write e.g. 2026-W47")
        year, number = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{year} has no ISO week {number}") from None
        return cls(year, number)

    @classmethod
    def containing(cls, moment: datetime) -> Week:
        """The week that holds an instant (judged in local time)."""
        iso = moment.astimezone(TZ).isocalendar()
        return cls(iso.year, iso.week)

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 local, as UTC."""
        return datetime.combine(self.monday, time(0), tzinfo=TZ).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 local, as UTC (exclusive)."""
        return datetime.combine(self.monday + timedelta(days=7), time(0),
                                tzinfo=TZ).astimezone(UTC)

    def previous(self) -> Week:
        return Week.containing(self.start - timedelta(days=1))

    def days(self) -> list[tuple[date, datetime, datetime]]:
        """The seven local days with their UTC bounds."""
        out = []
        for i in range(7):
            d = self.monday + timedelta(days=i)
            out.append((d, datetime.combine(d, time(0), tzinfo=TZ).astimezone(UTC),
                        datetime.combine(d + timedelta(days=1), time(0),
                                         tzinfo=TZ).astimezone(UTC)))
        return out

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"
