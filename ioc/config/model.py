"""The whole province configuration: one immutable object built from the config directory."""

from __future__ import annotations

from functools import cached_property
from typing import TypeVar

from pydantic import Field

from ioc.config.channels import Channel
from ioc.config.oncall import OnCall
from ioc.config.province import Calendar, Province, Retention, Systems
from ioc.config.routing import Routing
from ioc.config.rules import InhibitRule, Rule
from ioc.config.schedule import MaintenanceWindow, Report
from ioc.config.targets import Target, TargetBase
from ioc.config.types import Model, SystemName

T = TypeVar("T", bound=TargetBase)


class ProvinceConfig(Model):
    """Everything the IOC is told about a province; built by `load_config`, never mutated.

    Each field is one *section*; a section is a top-level key in one of the YAML files of the
    config directory (list sections may be spread over several files).
    """

    province: Province = Field(description="Identity, time zone and language.")
    systems: Systems = Field(default_factory=Systems, description="The three systems and SLOs.")
    targets: tuple[Target, ...] = Field(default=(), description="What the collectors watch.")
    rules: tuple[Rule, ...] = Field(default=(), description="Alert rules.")
    routing: Routing = Field(default_factory=Routing, description="Alert routing tree.")
    inhibit_rules: tuple[InhibitRule, ...] = Field(
        default=(), description="Alerts that mute others while they fire (Alertmanager's "
        "inhibit_rules).")
    channels: tuple[Channel, ...] = Field(default=(), description="Notification destinations.")
    oncall: OnCall = Field(default_factory=OnCall, description="People, rotas, escalation.")
    maintenance: tuple[MaintenanceWindow, ...] = Field(default=(),
                                                       description="Maintenance windows.")
    report: Report | None = Field(default=None, description="Weekly SLA report.")
    calendar: Calendar = Field(default_factory=Calendar, description="Working-day exceptions.")
    retention: Retention = Field(default_factory=Retention, description="Data retention.")

    @cached_property
    def targets_by_id(self) -> dict[str, Target]:
        """Targets keyed by id."""
        return {t.id: t for t in self.targets}

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        """Rules keyed by id."""
        return {r.id: r for r in self.rules}

    @cached_property
    def channels_by_name(self) -> dict[str, Channel]:
        """Channels keyed by name."""
        return {c.name: c for c in self.channels}

    def target(self, target_id: str) -> Target:
        """The target with this id (KeyError when unknown)."""
        return self.targets_by_id[target_id]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError when unknown)."""
        return self.rules_by_id[rule_id]

    def channel(self, name: str) -> Channel:
        """The channel with this name (KeyError when unknown)."""
        return self.channels_by_name[name]

    def targets_of(self, kind: type[T], *, system: SystemName | None = None,
                   enabled_only: bool = True) -> list[T]:
        """Targets of one model class (e.g. HttpTarget), optionally of one system.

        Disabled targets are left out unless `enabled_only=False`.
        """
        return [
            t for t in self.targets
            if isinstance(t, kind) and (system is None or t.system == system)
            and (t.enabled or not enabled_only)
        ]

    def summary(self) -> str:
        """One line saying what was loaded, for `ioc config check` and start-up logs."""
        counts = [
            f"{len(self.targets)} targets", f"{len(self.rules)} rules",
            f"{len(self.channels)} channels", f"{len(self.oncall.people)} people",
            f"{len(self.oncall.rotations)} rotations",
            f"{len(self.maintenance)} maintenance windows",
            f"{len(self.report.recipients) if self.report else 0} report recipients",
        ]
        return ", ".join(counts)


SECTIONS: tuple[str, ...] = tuple(ProvinceConfig.model_fields)
LIST_SECTIONS: frozenset[str] = frozenset({"targets", "rules", "channels", "maintenance"})
"""Sections that may be split over several files (their lists are concatenated)."""
