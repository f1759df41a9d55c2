"""Value types shared by every config model: durations, percentages, slugs, labels, URLs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

SystemName = Literal["portal", "payments", "documents"]
"""The three monitored systems: public-service portal, payment gateway, document system."""

SYSTEMS: tuple[SystemName, ...] = ("portal", "payments", "documents")

Language = Literal["vi", "en"]
Severity = Literal["critical", "warning", "info"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)


class Model(BaseModel):
    """Base of every config model: unknown keys are errors and loaded config is immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,  # chat ids, phone numbers and codes may be written bare
        populate_by_name=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, data: Any) -> Any:
        """`key: ""` (often `${VAR:-}`) means unset for fields whose default is None."""
        if not isinstance(data, dict):
            return data
        optional = {
            key for name, info in cls.model_fields.items() if info.default is None
            for key in (name, info.alias) if key
        }
        return {k: None if v == "" and k in optional else v for k, v in data.items()}


def fail(message: str, hint: str) -> NoReturn:
    """Raise a validation error that carries a hint; the loader prints both with file and line."""
    raise PydanticCustomError("config", "{message}", {"message": message, "hint": hint})


def check_select(value: str) -> str:
    """Refuse a query that is not a SELECT (or WITH ... SELECT): config only reads."""
    words = value.split(None, 1)
    if not words or words[0].lower() not in ("select", "with"):
        fail("query must be a SELECT (or WITH ... SELECT)",
             "config queries only read; write e.g. SELECT count(*) AS value FROM ...")
    return value


# --- durations ---------------------------------------------------------------------------------

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_DURATION_HINT = "write a whole number and a unit (ms, s, m, h, d, w), e.g. 500ms, 30s, 5m, 1h30m"


def parse_duration(value: Any) -> timedelta:
    """Parse `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1w` into a timedelta (bare numbers refused)."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        fail(f"duration must be text like 30s, not {value!r}", _DURATION_HINT)
    text = value.strip()
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        fail(f"invalid duration '{value}'", _DURATION_HINT)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text form of a duration, the inverse of `parse_duration`."""
    ms = round(value.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("w", 604800000), ("d", 86400000), ("h", 3600000), ("m", 60000),
                       ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        fail("duration must be greater than zero", "use e.g. 30s")
    return value


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
"""A duration written as text (`30s`, `5m`, `1h30m`); zero (`0s`) is allowed."""

PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A duration greater than zero."""


# --- percentages -------------------------------------------------------------------------------

def parse_percent(value: Any) -> float:
    """Parse `99.5%` into the fraction 0.995 (KPI functions return fractions 0..1)."""
    hint = "write a percentage with the % sign, e.g. 99.5%"
    if isinstance(value, float | int) and not isinstance(value, bool):
        fail(f"percentage must be written with %, not {value!r}", hint)
    if not isinstance(value, str) or not value.strip().endswith("%"):
        fail(f"invalid percentage {value!r}", hint)
    try:
        number = float(value.strip()[:-1])
    except ValueError:
        fail(f"invalid percentage {value!r}", hint)
    if not 0 <= number <= 100:
        fail(f"percentage {value!r} is outside 0%..100%", hint)
    return number / 100


def format_percent(value: float) -> str:
    """The text form of a fraction as a percentage (0.995 -> `99.5%`)."""
    return f"{value * 100:g}%"


Percent = Annotated[
    float, BeforeValidator(parse_percent), PlainSerializer(format_percent, return_type=str)
]
"""A percentage written `98%`, held as the fraction 0.98 (the unit of `ioc_kpi`)."""


# --- names -------------------------------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        fail(f"'{value}' is not a valid id", "use lower-case letters, digits, '-' and '_', "
             "e.g. portal-health")
    return value


def _label_name(value: str) -> str:
    if not _LABEL.fullmatch(value):
        fail(f"'{value}' is not a valid label name",
             "use letters, digits and '_', not starting with a digit, e.g. agency")
    return value


def _metric_name(value: str) -> str:
    if not _METRIC.fullmatch(value):
        fail(f"'{value}' is not a valid metric name",
             "use letters, digits, '_' and ':', e.g. portal_dossiers_late")
    return value


def _http_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest.startswith("/"):
        fail("URL must start with http:// or https:// and name a host",
             "e.g. http://127.0.0.1:18081/health")
    return value


Slug = Annotated[str, AfterValidator(_slug)]
"""An identifier: lower-case letters, digits, `-` and `_` (`portal-health`)."""

LabelName = Annotated[str, AfterValidator(_label_name)]
"""A label name as in Prometheus (`agency`, `system`)."""

MetricName = Annotated[str, AfterValidator(_metric_name)]
"""A metric name as in Prometheus (`portal_dossiers_late`)."""

Labels = dict[LabelName, str]
"""Label names to values."""

HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http:// or https:// URL, kept as written (after `${VAR}` expansion)."""
