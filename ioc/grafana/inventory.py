"""What the dashboards are generated from: the configured systems and their targets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SYSTEM_NAMES = ("portal", "payments", "documents")

DEFAULT_TITLES = {
    "portal": "Cổng dịch vụ công",
    "payments": "Thanh toán trực tuyến",
    "documents": "Quản lý văn bản và điều hành",
}


@dataclass(frozen=True)
class SystemInfo:
    """A monitored system: its id, Vietnamese title and availability objective (0..1)."""

    name: str
    title: str
    availability_slo: float


@dataclass(frozen=True)
class TargetInfo:
    """A configured target as the dashboards need it."""

    id: str
    system: str
    kind: str
    name: str


@dataclass(frozen=True)
class Inventory:
    """The systems (always the three, in order) and their enabled targets."""

    systems: tuple[SystemInfo, ...]
    targets: tuple[TargetInfo, ...]

    def targets_of(self, system: str, kinds: Iterable[str] = ("http",)) -> list[TargetInfo]:
        """The targets of one system whose kind is one of `kinds`, in config order."""
        wanted = set(kinds)
        return [t for t in self.targets if t.system == system and t.kind in wanted]

    def system(self, name: str) -> SystemInfo:
        """The system called `name` (KeyError when unknown)."""
        for s in self.systems:
            if s.name == name:
                return s
        raise KeyError(name)


def default_inventory() -> Inventory:
    """The three systems with default titles and objectives, and no targets."""
    return Inventory(
        systems=tuple(SystemInfo(n, DEFAULT_TITLES[n], 0.995) for n in SYSTEM_NAMES),
        targets=(),
    )


def inventory_from_config(config: Any) -> Inventory:
    """Build the inventory from a loaded `ioc.config` ProvinceConfig."""
    systems = tuple(
        SystemInfo(n, config.systems.get(n).name_vi,
                   round(float(config.systems.get(n).slo.availability), 6))
        for n in SYSTEM_NAMES
    )
    targets = tuple(TargetInfo(t.id, t.system, t.kind, t.name)
                    for t in config.targets if t.enabled)
    return Inventory(systems=systems, targets=targets)
