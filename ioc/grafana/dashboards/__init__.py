"""Every dashboard, built from the inventory (the configured systems and targets)."""

from __future__ import annotations

from collections.abc import Callable

from ioc.grafana.dashboards import wall
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard

BUILDERS: tuple[Callable[[Inventory], Dashboard], ...] = (
    wall.build,
)

# The screens the wall playlist cycles through, in order.
PLAYLIST: tuple[str, ...] = (wall.UID,)


def build_all(inv: Inventory) -> list[Dashboard]:
    """All dashboards in a fixed order."""
    return [build(inv) for build in BUILDERS]
