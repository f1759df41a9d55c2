"""Grafana as a KPI reader for tests/test_consistency.py: the value a dashboard panel shows.

The panel's SQL from the committed dashboard JSON is expanded as Grafana would for the window
[from, to] and run as the read-only role, like every other harness query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from ioc.grafana.inventory import SYSTEM_NAMES

from .harness import load_dashboards, panel_result

# (kpi, system) -> (dashboard, panel title, column of the value, which row): None = the only
# row, "system" = the system's row (config order), "row=X" = the row whose first column is X.
PANELS: dict[tuple[str, str], tuple[str, str, int, str | None]] = {
    ("availability", "portal"): ("ioc-portal", "Độ sẵn sàng", 0, None),
    ("availability", "payments"): ("ioc-payments", "Độ sẵn sàng", 0, None),
    ("availability", "documents"): ("ioc-documents", "Độ sẵn sàng", 0, None),
    ("latency.p95", "portal"): ("ioc-portal", "Độ trễ p95", 0, None),
    ("slo.error_budget", "portal"): ("ioc-sla", "Tổng hợp SLA", 3, "system"),
    ("slo.error_budget", "payments"): ("ioc-sla", "Tổng hợp SLA", 3, "system"),
    ("766.2.1", ""): ("ioc-portal", "Tỷ lệ đúng hạn (766 - 2.1)", 0, None),
    ("766.3.3", ""): ("ioc-766", "Hồ sơ trực tuyến (3.3)", 0, None),
    ("766.4.1", ""): ("ioc-766", "Các chỉ số và điểm", 2, "row=766.4.1"),
    ("recon.match_rate", ""): ("ioc-payments", "Khớp đối soát (7 ngày)", 0, None),
}


def grafana_kpi_value(conn: psycopg.Connection, kpi: str, from_: datetime, to: datetime,
                      filter: dict[str, str]) -> float | None:
    """The value the dashboard panel showing this KPI displays for [from_, to]."""
    system = filter.get("system", "")
    uid, title, column, rows = PANELS[(kpi, system)]
    if title.endswith("(7 ngày)") and to - from_ != timedelta(days=7):
        raise ValueError(f"{title!r} always shows the seven days before the range's end")
    result = panel_result(conn, load_dashboards()[uid], title, to, to - from_).rows
    row: Any
    if rows is None:
        (row,) = result
    elif rows == "system":
        row = result[SYSTEM_NAMES.index(system)]
    else:
        (row,) = [r for r in result if r[0] == rows.removeprefix("row=")]
    value = row[column]
    return None if value is None else float(value)
