"""Maintenance windows and the weekly report schedule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from datetime import time as TimeOfDay
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from ioc.config.channels import Email
from ioc.config.matchers import Matcher
from ioc.config.types import WEEKDAYS, Language, Model, Slug, SystemName, Weekday, fail


class MaintenanceBase(Model):
    """Fields every maintenance window has."""

    id: Slug = Field(description="Window id.")
    name: str = Field(min_length=1, description="What is being done (Vietnamese).")
    system: SystemName | None = Field(default=None, description="The system under maintenance "
                                      "(none: decided by matchers, or everything).")
    matchers: tuple[Matcher, ...] = Field(default=(), description="Alerts whose labels match "
                                          "are muted during the window.")
    exclude_from_sla: bool = Field(default=False, description="true: the time does not count "
                                   "against availability in SLA figures.")


class OneOffWindow(MaintenanceBase):
    """A single planned window."""

    kind: Literal["one_off"] = Field(description="`one_off`.")
    start: datetime = Field(description="Start (local time unless an offset is written).")
    end: datetime = Field(description="End (exclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> OneOffWindow:
        if self.end <= self.start:
            fail("end must be after start", "fix the two times")
        return self

    def occurrences(self, from_: datetime, to: datetime,
                    tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The (starts_at, ends_at) pairs, aware UTC, overlapping [from_, to)."""
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=tz)
        end = self.end if self.end.tzinfo else self.end.replace(tzinfo=tz)
        if start < to and end > from_:
            return [(start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC")))]
        return []


class RecurringWindow(MaintenanceBase):
    """A weekly window, e.g. Saturdays 22:00-02:00 local time (may cross midnight)."""

    kind: Literal["recurring"] = Field(description="`recurring`.")
    days: tuple[Weekday, ...] = Field(min_length=1, description="Weekdays on which it starts.")
    start: time = Field(description="Local start time, HH:MM.")
    end: time = Field(description="Local end time, HH:MM; earlier than start means the next "
                      "day.")

    @model_validator(mode="after")
    def _not_empty(self) -> RecurringWindow:
        if self.start == self.end:
            fail("start and end are equal", "a recurring window needs a length")
        return self

    def occurrences(self, from_: datetime, to: datetime,
                    tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The (starts_at, ends_at) pairs, aware UTC, overlapping [from_, to)."""
        utc = ZoneInfo("UTC")
        day = from_.astimezone(tz).date() - timedelta(days=1)
        last = to.astimezone(tz).date()
        found = []
        while day <= last:
            if WEEKDAYS[day.weekday()] in self.days:
                start = datetime.combine(day, self.start, tzinfo=tz)
                end_day = day + timedelta(days=1) if self.end <= self.start else day
                end = datetime.combine(end_day, self.end, tzinfo=tz)
                if start < to and end > from_:
                    found.append((start.astimezone(utc), end.astimezone(utc)))
            day += timedelta(days=1)
        return found


MaintenanceWindow = Annotated[OneOffWindow | RecurringWindow, Field(discriminator="kind")]
"""A maintenance window, chosen by its `kind`."""


class Recipient(Model):
    """A leader who receives the weekly report."""

    name: str = Field(min_length=1, description="Name and title, e.g. Phó Chủ tịch UBND tỉnh.")
    email: Email = Field(description="E-mail address.")


class Report(Model):
    """The weekly SLA report (report.yaml, `report:`)."""

    weekday: Weekday = Field(default="monday", description="Day it is sent (local).")
    time: TimeOfDay = Field(default=TimeOfDay(7, 0), description="Local time it is sent (07:00).")
    language: Language = Field(default="vi", description="Language of the report.")
    channel: Slug = Field(description="Name of the e-mail channel used to send it.")
    recipients: tuple[Recipient, ...] = Field(min_length=1, description="Who receives it.")
    title: str = Field(default="Báo cáo tuần: vận hành và chất lượng dịch vụ",
                       description="Title of the report and e-mail subject prefix.")
    enabled: bool = Field(default=True, description="false: no scheduled sending (on-demand "
                          "reports still work).")
    slowest_min_dossiers: int = Field(
        default=5, ge=1, le=10_000,
        description="Least dossiers in the week for a procedure or agency to be ranked among "
        "the slowest (fewer say little).")

    def due_on(self, day: date) -> bool:
        """True when the report is scheduled on this local date."""
        return WEEKDAYS[day.weekday()] == self.weekday
