"""Traffic lights for the leaders' summary: green meets the target, amber is close, red is not."""

from __future__ import annotations

GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"
_ORDER = {GREY: 0, GREEN: 1, AMBER: 2, RED: 3}


def availability_light(value: float | None, objective: float) -> str:
    """Green at or above the objective; amber while under twice the allowed unavailability."""
    if value is None:
        return GREY
    if value >= objective:
        return GREEN
    return AMBER if (1 - value) <= 2 * (1 - objective) else RED


def latency_light(value: float | None, objective_ms: float) -> str:
    """Green at or under the objective; amber up to 1.5 times it."""
    if value is None:
        return GREY
    if value <= objective_ms:
        return GREEN
    return AMBER if value <= 1.5 * objective_ms else RED


def score_light(score: float | None, max_score: float) -> str:
    """Green at full marks; amber from 80% of the marks."""
    if score is None:
        return GREY
    if score >= max_score - 1e-9:
        return GREEN
    return AMBER if score >= 0.8 * max_score else RED


def ratio_light(value: float | None, target: float, amber_gap: float) -> str:
    """Green at or above target; amber within `amber_gap` below it."""
    if value is None:
        return GREY
    if value >= target:
        return GREEN
    return AMBER if value >= target - amber_gap else RED


def worst(lights: list[str]) -> str:
    """The worst of several lights (grey only when all are grey)."""
    return max(lights, key=_ORDER.__getitem__, default=GREY)
