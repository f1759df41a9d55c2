"""What every rule kind shares: the sample it returns, its context, and the `RuleKind` protocol."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql

from ioc.config.rules import RuleBase, Selector

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
    `hold` means "no verdict yet": the rule cannot tell (a start-up grace, data too old to
    judge), so the engine leaves the alert as it is: a firing alert neither resolves nor does a
    quiet one go pending. `active` is then ignored.
    """

    labels: Mapping[str, str]
    value: float | None
    active: bool
    severity: str | None = None
    hold: bool = False
    annotations: Mapping[str, str] | None = None
    """Texts the rule computes itself (e.g. which targets are down), added to the alert's."""


@dataclass(frozen=True)
class Context:
    """What an evaluation may depend on besides the database: the time, the time zone, and when
    the evaluating engine started (None: long enough ago to give no grace)."""

    now: datetime
    timezone: ZoneInfo = PROVINCE_TZ
    engine_started: datetime | None = None

    def in_grace(self, since: datetime | None, length: timedelta) -> bool:
        """True while `length` has not yet passed since `since` or since the engine started:
        an absence that began before either cannot yet be told from a (re)start."""
        anchors = [t for t in (since, self.engine_started) if t is not None]
        return bool(anchors) and (self.now - max(anchors)).total_seconds() <= \
            length.total_seconds()


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


def target_conditions(sel: Selector, params: dict[str, Any]) -> list[sql.Composable]:
    """Conditions on the enabled rows of `targets` (alias t) that a selector picks."""
    where: list[sql.Composable] = [sql.SQL("t.enabled")]
    if sel.targets:
        where.append(sql.SQL("t.id = ANY(%(targets)s)"))
        params["targets"] = list(sel.targets)
    if sel.system:
        where.append(sql.SQL("t.system = %(system)s"))
        params["system"] = sel.system
    if sel.labels:
        where.append(sql.SQL("t.labels @> %(labels)s::jsonb"))
        params["labels"] = json.dumps(sel.labels, ensure_ascii=False)
    return where
