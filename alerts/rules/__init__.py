"""Rule kinds, each behind the `RuleKind` protocol, in one explicit registry."""

from __future__ import annotations

from alerts.rules.absence import Absence
from alerts.rules.base import Context, RuleError, RuleKind, Sample
from alerts.rules.burn import BurnRate
from alerts.rules.down import Down
from alerts.rules.kpi import KpiBelow
from alerts.rules.query import SqlQuery
from alerts.rules.recon import ReconBreaks
from alerts.rules.system_down import SystemDown
from alerts.rules.threshold import Threshold

KINDS: dict[str, RuleKind] = {
    "threshold": Threshold(),
    "down": Down(),
    "system_down": SystemDown(),
    "absence": Absence(),
    "burn_rate": BurnRate(),
    "kpi_below": KpiBelow(),
    "recon_breaks": ReconBreaks(),
    "sql": SqlQuery(),
}

__all__ = ["KINDS", "Context", "RuleError", "RuleKind", "Sample"]
