"""Request and response bodies of the REST API (they document the OpenAPI schema)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ioc.api.tokens import Role

_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_PUSH = 10_000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetStatus(BaseModel):
    id: str
    system: str
    kind: str
    name: str
    critical: bool
    state: Literal["up", "slow", "down", "nodata"]
    checked_at: datetime | None
    stale_at: datetime | None
    ok: bool | None
    reason: str | None
    status_code: int | None
    latency_ms: float | None
    interval_s: float


class SystemStatus(BaseModel):
    system: str
    state: Literal["up", "degraded", "down", "nodata"]
    latency_ms: float | None
    targets_total: int
    targets_up: int
    checked_at: datetime | None
    stale_at: datetime | None
    targets: list[TargetStatus]


class StatusResponse(BaseModel):
    at: datetime
    systems: list[SystemStatus]


class ProbePoint(BaseModel):
    bucket: datetime
    total: int
    ok: int
    latency_mean: float | None
    latency_min: float | None
    latency_max: float | None


class SamplePoint(BaseModel):
    bucket: datetime
    count: int
    mean: float | None
    min: float
    max: float
    last: float


class Series(BaseModel):
    id: int
    name: str
    labels: dict[str, Any]
    target_id: str | None
    points: list[SamplePoint]


class KpiValue(BaseModel):
    kpi: str
    labels: dict[str, Any]
    value: float | None = Field(description="fraction 0..1 for rates; null when unknown")
    numerator: float | None
    denominator: float | None


class KpiResponse(BaseModel):
    kpi: str
    from_: datetime = Field(alias="from")
    to: datetime
    values: list[KpiValue]


class Alert(BaseModel):
    fingerprint: str
    rule_id: str
    labels: dict[str, Any]
    annotations: dict[str, Any]
    severity: str
    state: str
    value: float | None
    started_at: datetime | None
    firing_at: datetime | None
    resolved_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    updated_at: datetime | None
    inhibited_by: str | None = Field(None, description="Fingerprint of the firing alert that "
                                     "mutes this one (config inhibit_rules): not notified.")
    muted_by: str | None = Field(None, description="That alert's summary.")


class Matcher(Body):
    label: str = Field(pattern=_LABEL.pattern, max_length=100)
    value: str = Field(max_length=500)
    op: Literal["=", "!=", "=~", "!~"] = "="


class SilenceCreate(Body):
    matchers: list[Matcher] = Field(min_length=1, max_length=20)
    starts_at: AwareDatetime | None = Field(None, description="default: now")
    ends_at: AwareDatetime | None = None
    duration: str | None = Field(None, pattern=r"^\d{1,6}(m|h|d)$", description="e.g. 2h")
    comment: str = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give exactly one of ends_at and duration")
        return self

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The silence's [starts_at, ends_at), checked to be non-empty and under a year."""
        start = self.starts_at or now
        if self.duration is not None:
            unit = {"m": 60, "h": 3600, "d": 86400}[self.duration[-1]]
            end = start + timedelta(seconds=int(self.duration[:-1]) * unit)
        else:
            assert self.ends_at is not None
            end = self.ends_at
        if end <= start or end <= now:
            raise ValueError("the silence must end after it starts and in the future")
        if end - start > timedelta(days=366):
            raise ValueError("a silence may last at most a year")
        return start, end


class Silence(BaseModel):
    id: int
    matchers: list[dict[str, Any]]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    active: bool
    created_at: datetime | None = None
    source: str | None = None


class OnCall(BaseModel):
    rotation: str
    rotation_name: str | None = None
    person: str
    name: str
    email: str | None = None
    phone: str | None = None
    override: bool = False


class Report(BaseModel):
    id: int
    kind: str
    period: str = Field(description="ISO week, e.g. 2026-W47")
    language: str
    version: int
    period_from: datetime
    period_to: datetime
    created_at: datetime
    published_at: datetime | None
    has_pdf: bool


class PushSample(Body):
    metric: str = Field(max_length=200, pattern=_METRIC.pattern,
                        description="one of the metrics the push target allows")
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    value: float
    time: AwareDatetime | None = Field(None, description="default: when received; at most 7 "
                                       "days old or 5 minutes ahead")


class PushRequest(Body):
    samples: list[PushSample] = Field(min_length=1, max_length=MAX_PUSH)


class PushResult(BaseModel):
    stored: int


class TokenCreate(Body):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@-]+$")
    role: Role


class TokenInfo(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenInfo):
    token: str = Field(description="the secret; shown only once")


class Me(BaseModel):
    name: str
    role: Role


class ConfigState(BaseModel):
    summary: str
    changed: bool = Field(description="a reload switched to new files")
    errors: list[str] = Field(description="why the files were refused (the old config stays)")
