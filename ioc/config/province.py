"""The province itself: identity, the three systems with their SLOs, calendar and retention."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ioc.config.types import (
    HttpUrl,
    Language,
    Model,
    Percent,
    PositiveDuration,
    SystemName,
    fail,
)


class Province(Model):
    """Who this IOC belongs to (province.yaml, `province:`)."""

    name: str = Field(min_length=1, description="Official name in Vietnamese, e.g. Tỉnh Sơn Hà.")
    code: str = Field(min_length=1, description="Short code, e.g. the administrative code `H99`.")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", description="IANA time zone for days, "
                          "weeks, hand-offs and report schedules.")
    language: Language = Field(default="vi", description="Default language of user-facing "
                               "text (vi or en).")
    public_url: HttpUrl = Field(default="http://127.0.0.1:8080", description="URL at which the "
                                "IOC is reached (links in notifications and reports).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            fail(f"unknown time zone '{value}'", "use an IANA name such as Asia/Ho_Chi_Minh")
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The province's time zone."""
        return ZoneInfo(self.timezone)


class Slo(Model):
    """Service-level objectives of one system."""

    availability: Percent = Field(default=0.995, description="Share of successful probes, "
                                  "e.g. 99.5%.")
    latency_p95: PositiveDuration = Field(default=timedelta(seconds=2), description="95th "
                                          "percentile response time objective, e.g. 2s.")
    window: PositiveDuration = Field(default=timedelta(days=28), description="Rolling SLO "
                                     "window, whole days (28d or 30d).")

    @field_validator("availability")
    @classmethod
    def _below_hundred(cls, value: float) -> float:
        if not 0 < value < 1:
            fail("availability objective must be above 0% and below 100%",
                 "100% leaves no error budget; use e.g. 99.5%")
        return value

    @field_validator("window")
    @classmethod
    def _whole_days(cls, value: timedelta) -> timedelta:
        if value % timedelta(days=1):
            fail("SLO window must be whole days", "use 28d or 30d")
        return value


class SystemConfig(Model):
    """Display names and objectives of one monitored system."""

    name_vi: str = Field(min_length=1, description="Vietnamese display name.")
    name_en: str = Field(min_length=1, description="English display name.")
    slo: Slo = Field(default_factory=Slo, description="Service-level objectives.")


class Systems(Model):
    """The three monitored systems (systems.yaml, `systems:`)."""

    portal: SystemConfig = Field(
        default=SystemConfig(name_vi="Cổng dịch vụ công", name_en="Public-service portal"),
        description="Public-service portal / one-stop dossier system.")
    payments: SystemConfig = Field(
        default=SystemConfig(name_vi="Thanh toán trực tuyến", name_en="Payment gateway"),
        description="Online payment gateway.")
    documents: SystemConfig = Field(
        default=SystemConfig(name_vi="Quản lý văn bản và điều hành",
                             name_en="Electronic document system"),
        description="Electronic document and work-file system.")

    def get(self, system: SystemName) -> SystemConfig:
        """The config of a system by name."""
        result: SystemConfig = getattr(self, system)
        return result


class Retention(Model):
    """How long data is kept (province.yaml, `retention:`)."""

    raw: PositiveDuration = Field(default=timedelta(days=30), description="Raw probe results "
                                  "and samples (30d).")
    rollups: PositiveDuration = Field(default=timedelta(days=730), description="1-minute and "
                                      "1-hour rollups (2y = 730d).")

    @model_validator(mode="after")
    def _rollups_outlive_raw(self) -> Retention:
        if self.rollups < self.raw:
            fail("rollups must be kept at least as long as raw data",
                 "raise rollups or lower raw")
        return self


class Calendar(Model):
    """Working-day exceptions on top of the public holidays (calendar.yaml, `calendar:`).

    Public holidays come from the `holidays` package; this lists what a government decision
    adds each year: bridge days off and the Saturdays worked to make up for them.
    """

    days_off: tuple[date, ...] = Field(default=(), description="Extra non-working weekdays "
                                       "(bridge holidays), e.g. 2025-05-02.")
    working_days: tuple[date, ...] = Field(default=(), description="Make-up working days on a "
                                           "weekend, e.g. Saturday 2025-04-26.")

    @field_validator("days_off")
    @classmethod
    def _weekdays(cls, days: tuple[date, ...]) -> tuple[date, ...]:
        for day in days:
            if day.weekday() >= 5:
                fail(f"{day} is already a weekend day", "list only weekdays as days_off")
        return days

    @field_validator("working_days")
    @classmethod
    def _weekends(cls, days: tuple[date, ...]) -> tuple[date, ...]:
        for day in days:
            if day.weekday() < 5:
                fail(f"{day} is already a working day", "list only Saturdays or Sundays as "
                     "working_days")
        return days
