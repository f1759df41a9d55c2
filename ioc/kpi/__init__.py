"""The KPI layer seen from Python: every reader goes through `read_kpi`, i.e. SQL `ioc_kpi`."""

from __future__ import annotations

from ioc.kpi.read import KpiError, KpiRow, kpi_value, read_kpi

__all__ = ["KpiError", "KpiRow", "kpi_value", "read_kpi"]
