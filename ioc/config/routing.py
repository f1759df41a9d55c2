"""Routing of alerts to channels by labels: an Alertmanager-like tree of routes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta

from pydantic import Field

from ioc.config.matchers import Matcher, match_all
from ioc.config.types import Duration, LabelName, Model, PositiveDuration, Slug


class Route(Model):
    """A node of the routing tree; unset timing fields inherit from the parent route."""

    matchers: tuple[Matcher, ...] = Field(
        default=(), description="All must match the alert's labels (empty matches all), e.g. "
        "['severity=\"critical\"', 'system=~\"portal|payments\"'].")
    channels: tuple[Slug, ...] | None = Field(
        default=None, description="Channel names to notify (default: the parent's).")
    escalation: Slug | None = Field(default=None, description="Escalation policy id "
                                    "(oncall.yaml) started when an alert fires here.")
    group_by: tuple[LabelName, ...] | None = Field(
        default=None, description="Labels that group alerts into one notification.")
    group_wait: Duration | None = Field(default=None, description="Wait before the first "
                                        "notification of a new group.")
    group_interval: PositiveDuration | None = Field(
        default=None, description="Wait before notifying a group about new alerts.")
    repeat_interval: PositiveDuration | None = Field(
        default=None, description="Re-send a still-firing group after this long.")
    send_resolved: bool | None = Field(default=None,
                                       description="Also notify when alerts resolve.")
    continue_: bool = Field(default=False, alias="continue", description="Keep matching "
                            "sibling routes after this one matched.")
    routes: tuple[Route, ...] = Field(default=(), description="Child routes, tried in order.")


class Routing(Route):
    """The root route: its matchers are ignored and its timing values are the defaults."""

    group_by: tuple[LabelName, ...] | None = Field(
        default=("rule", "system"), description="Default grouping labels.")
    group_wait: Duration | None = Field(default=timedelta(seconds=30),
                                        description="Default group_wait (30s).")
    group_interval: PositiveDuration | None = Field(default=timedelta(minutes=5),
                                                    description="Default group_interval (5m).")
    repeat_interval: PositiveDuration | None = Field(default=timedelta(hours=4),
                                                     description="Default repeat (4h).")
    send_resolved: bool | None = Field(default=True, description="Default send_resolved.")
    channels: tuple[Slug, ...] | None = Field(
        default=(), description="Channels of alerts no child route takes; must not be empty "
        "when there are rules, so that no alert goes nowhere.")

    def walk(self) -> Iterator[tuple[tuple[str | int, ...], Route]]:
        """Every route with its location under `routing` (for reference checks)."""
        stack: list[tuple[tuple[str | int, ...], Route]] = [((), self)]
        while stack:
            loc, route = stack.pop(0)
            yield loc, route
            stack.extend(((*loc, "routes", i), child) for i, child in enumerate(route.routes))

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with these labels goes to (the root when no child matches).

        Returned routes are *resolved*: timing fields inherited from their ancestors.
        """
        found = _match_children(self, labels, self)
        return found or [self]


def _inherit(parent: Route, child: Route) -> Route:
    inherited = {
        name: getattr(parent, name)
        for name in ("channels", "group_by", "group_wait", "group_interval", "repeat_interval",
                     "send_resolved", "escalation")
        if getattr(child, name) is None
    }
    return child.model_copy(update=inherited)


def _match_children(parent: Route, labels: Mapping[str, str], resolved: Route) -> list[Route]:
    found: list[Route] = []
    for child in parent.routes:
        if not match_all(child.matchers, labels):
            continue
        merged = _inherit(resolved, child)
        deeper = _match_children(child, labels, merged)
        found.extend(deeper or [merged])
        if not child.continue_:
            break
    return found
