"""What every rule kind shares: the sample it returns, its context, and the `RuleKind` protocol."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection

from ioc.config.rules import RuleBase

PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}


class RuleError(RuntimeError):
    """A rule could not be evaluated (bad query, missing function); its alerts keep their state."""


@dataclass(frozen=True)
class Objective:
    """A system's service-level objective for one indicator (a fraction of good events)."""

    target: float
    latency_ms: float | None = None  # for a latency SLO: a probe faster than this is good


@dataclass(frozen=True)
class Sample:
    """One series of a rule's result: its labels, the value seen, and whether the condition held.

    `value` is None when there is no data. `severity` overrides the rule's (burn-rate pairs).
    """

    labels: Mapping[str, str]
    value: float | None
    active: bool
    severity: str | None = None


@dataclass(frozen=True)
class Context:
    """What an evaluation may depend on besides the database: the time and the time zone."""

    now: datetime
    timezone: ZoneInfo = PROVINCE_TZ


class RuleKind(Protocol):
    """A kind of rule: turns a configured rule into samples at `ctx.now`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]: ...


def compare(value: float | None, op: str, threshold: float) -> bool:
    """`value op threshold`; no data never satisfies a comparison."""
    return value is not None and _OPS[op](value, threshold)


def text_labels(raw: Mapping[str, Any] | str | None) -> dict[str, str]:
    """Labels as text (jsonb may hold numbers); None-valued labels are dropped.

    Label sets fetched as JSON text are parsed once and remembered: the same 10,000 targets
    come back every cycle.
    """
    if isinstance(raw, str):
        return dict(_parsed(raw))
    return {str(k): str(v) for k, v in (raw or {}).items() if v is not None}


@lru_cache(maxsize=65536)
def _parsed(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text).items() if v is not None)
