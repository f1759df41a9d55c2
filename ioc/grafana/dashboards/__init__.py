"""Every dashboard, built from the inventory (the configured systems and targets)."""

from __future__ import annotations

from collections.abc import Callable

from ioc.grafana.dashboards import (
    alerts,
    centre,
    documents,
    indicators,
    payments,
    portal,
    sla,
    wall,
)
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard

BUILDERS: tuple[Callable[[Inventory], Dashboard], ...] = (
    wall.build, portal.build, payments.build, documents.build, indicators.build, sla.build,
    alerts.build, centre.build,
)

# The screens the wall playlist cycles through, in order (the overview between each system).
PLAYLIST: tuple[str, ...] = (wall.UID, portal.UID, wall.UID, payments.UID, wall.UID,
                             documents.UID, alerts.UID)


def build_all(inv: Inventory) -> list[Dashboard]:
    """All dashboards in a fixed order."""
    return [build(inv) for build in BUILDERS]
