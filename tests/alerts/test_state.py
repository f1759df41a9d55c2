"""The alert state machine on its own: thresholds, `for`, flap damping (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.state import AlertState, Damping, step

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
S = timedelta(seconds=10)


def run(observations: str, damping: Damping) -> tuple[AlertState, list[str]]:
    """Feed one observation per 10 s ('x' failing, '.' passing); return the transitions."""
    state, seen = AlertState(), []
    for i, obs in enumerate(observations):
        state, transitions = step(state, obs == "x", 1.0 if obs == "x" else 0.0, damping,
                                  T0 + i * S)
        seen += [f"{i}:{a}->{b}" for a, b in transitions]
    return state, seen


@pytest.mark.parametrize(("observations", "damping", "expected"), [
    pytest.param("..xx..", Damping(), ["2:inactive->firing", "4:firing->resolved"],
                 id="for-0-fires-at-once"),
    pytest.param("xxxxx..", Damping(for_=timedelta(seconds=30)),
                 ["0:inactive->pending", "3:pending->firing", "5:firing->resolved"],
                 id="for-30s-pending-then-firing"),
    pytest.param("xx.", Damping(for_=timedelta(seconds=30)),
                 ["0:inactive->pending", "2:pending->inactive"], id="pending-cancelled"),
    pytest.param("x.xx.xxx", Damping(failure_threshold=3), ["7:inactive->firing"],
                 id="failure-threshold-needs-consecutive-failures"),
    pytest.param("xx.x..", Damping(success_threshold=2), ["0:inactive->firing",
                                                          "5:firing->resolved"],
                 id="success-threshold-needs-consecutive-passes"),
])
def test_transitions(observations: str, damping: Damping, expected: list[str]) -> None:
    assert run(observations, damping)[1] == expected


def test_flapping_alert_stays_firing_until_stable_for_the_hold() -> None:
    d = Damping(flap_threshold=3, flap_hold=timedelta(minutes=2))
    state, seen = run("x." * 30 + "." * 13, d)
    fired = [t for t in seen if t.endswith("->firing")]
    assert len(fired) == 3  # the third firing within the window marks it flapping
    assert state.state == "resolved"
    # resolved once the condition had passed for 2 minutes (12 observations after the last x)
    assert seen[-1] == f"{59 + 12}:firing->resolved"


def test_refiring_after_resolve_starts_a_new_episode() -> None:
    state, _ = run("x.", Damping())
    assert state.state == "resolved" and state.resolved_at is not None
    again, transitions = step(state, True, 1.0, Damping(), T0 + timedelta(hours=2))
    assert transitions == [("resolved", "firing")]
    assert again.firing_at == T0 + timedelta(hours=2) and again.resolved_at is None
    assert again.fired_at == (T0 + timedelta(hours=2),)  # the old firing left the flap window


def test_pending_after_resolve_falls_back_to_resolved() -> None:
    d = Damping(for_=timedelta(minutes=1))
    state, _ = run("xxxxxxx.", d)
    assert state.state == "resolved"
    pending, _ = step(state, True, 1.0, d, T0 + timedelta(hours=1))
    back, transitions = step(pending, False, 0.0, d, T0 + timedelta(hours=1, seconds=10))
    assert pending.state == "pending" and transitions == [("pending", "inactive")]
    assert back.state == "resolved"
