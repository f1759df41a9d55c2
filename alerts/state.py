"""The alert state machine: inactive → pending → firing → resolved, pure (it takes `now`).

One call of `step` digests one evaluation of one alert: whether the rule's condition held
(`active`) and the value seen. It applies the failure threshold (consecutive failing evaluations
before an alert goes pending), `for` (how long it stays pending before firing), the success
threshold (consecutive passing evaluations before it resolves) and flap damping: an alert that
fired `flap_threshold` times within `flap_window` is *flapping*, and then resolves only after
passing continuously for `flap_hold`, so a condition that comes and goes does not spam.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

State = Literal["inactive", "pending", "firing", "resolved"]


@dataclass(frozen=True)
class Damping:
    """How eagerly one rule's alerts change state."""

    for_: timedelta = timedelta(0)
    failure_threshold: int = 1
    success_threshold: int = 1
    flap_window: timedelta = timedelta(hours=1)
    flap_threshold: int = 3
    flap_hold: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class AlertState:
    """What the engine remembers about one alert between evaluations (a row of `alerts`)."""

    state: State = "inactive"
    value: float | None = None
    started_at: datetime | None = None
    firing_at: datetime | None = None
    resolved_at: datetime | None = None
    fail_count: int = 0
    ok_count: int = 0
    ok_since: datetime | None = None
    fired_at: tuple[datetime, ...] = ()
    flapping: bool = False


Transition = tuple[State, State]
"""(from_state, to_state) of one change."""


def step(prev: AlertState, active: bool, value: float | None, damping: Damping,
         now: datetime) -> tuple[AlertState, list[Transition]]:
    """The state after one evaluation, and the transitions it made (empty if none)."""
    if active:
        return _failing(prev, value, damping, now)
    return _passing(prev, value, damping, now)


def _failing(prev: AlertState, value: float | None, d: Damping,
             now: datetime) -> tuple[AlertState, list[Transition]]:
    # counters only count where they decide something, so a steady alert stays equal to
    # itself and costs no write
    cur = replace(prev, value=value, ok_count=0, ok_since=None)
    if prev.state in ("inactive", "resolved"):
        cur = replace(cur, fail_count=prev.fail_count + 1)
        if cur.fail_count < d.failure_threshold:
            return cur, []
        cur = replace(cur, started_at=now, fail_count=0)
        if d.for_ <= timedelta(0):
            return _fire(cur, d, now), [(prev.state, "firing")]
        return replace(cur, state="pending"), [(prev.state, "pending")]
    if prev.state == "pending" and prev.started_at is not None \
            and now - prev.started_at >= d.for_:
        return _fire(cur, d, now), [("pending", "firing")]
    return cur, []


def _fire(cur: AlertState, d: Damping, now: datetime) -> AlertState:
    recent = (*(t for t in cur.fired_at if now - t < d.flap_window), now)
    return replace(cur, state="firing", firing_at=now, resolved_at=None, fired_at=recent,
                   flapping=len(recent) >= d.flap_threshold)


def _passing(prev: AlertState, value: float | None, d: Damping,
             now: datetime) -> tuple[AlertState, list[Transition]]:
    if prev.state in ("inactive", "resolved"):
        return replace(prev, fail_count=0), []
    cur = replace(prev, value=value, ok_count=prev.ok_count + 1, ok_since=prev.ok_since or now)
    if prev.state == "pending":
        # back to how it was before this episode began: resolved if it ever fired, else gone
        back: State = "resolved" if prev.resolved_at is not None else "inactive"
        return replace(cur, state=back, ok_count=0, ok_since=None), [("pending", "inactive")]
    if cur.ok_count < d.success_threshold:
        return cur, []
    if cur.flapping and cur.ok_since is not None and now - cur.ok_since < d.flap_hold:
        return cur, []
    return replace(cur, state="resolved", resolved_at=now, flapping=False, ok_count=0,
                   ok_since=None), [("firing", "resolved")]

