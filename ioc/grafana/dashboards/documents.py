"""The electronic document system: signing, electronic receipt, national axis, overdue."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.common import (
    RANGE,
    kpi_chart,
    latency_by_target,
    system_screen,
)
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard, Panel, Row
from ioc.grafana.panels import bargauge, count_steps, rate_steps, stat

UID = "ioc-documents"
SYSTEM = "documents"
HIGH = rate_steps(0.9, 0.95)


def _rate(title: str, kpi: str) -> Panel:
    return stat(title, f'SELECT {sql.kpi(kpi, *RANGE)} AS "value"', 4, unit="percentunit",
                decimals=1, steps=HIGH)


def build(inv: Inventory) -> Dashboard:
    """The documents screen."""
    return system_screen(
        inv, SYSTEM, UID, "Văn bản điều hành",
        "Văn bản đến, văn bản đi, ký số và liên thông văn bản",
        header=(
            _rate("Văn bản đi được ký số", "documents.signing_rate"),
            _rate("Văn bản đến điện tử", "documents.electronic_rate"),
            _rate("Qua trục liên thông", "documents.national_axis_rate"),
            stat("Văn bản quá hạn xử lý",
                 f'SELECT {sql.kpi("documents.overdue", *RANGE)} AS "value"', 4,
                 decimals=0, steps=count_steps(1, 20)),
        ),
        rows=(
            Row(10, (
                kpi_chart("Văn bản tiếp nhận mỗi giờ", sql.kpi_series(
                    "throughput", {"system": SYSTEM}, "'Văn bản / giờ'"), 12, minimum=0),
                latency_by_target(inv, SYSTEM, 12),
            )),
            Row(10, (
                bargauge("Văn bản quá hạn theo cơ quan", sql.kpi_rows(
                    "documents.overdue", *RANGE, {"by": "agency"}, "agency", title="Cơ quan"),
                    12, unit="short", steps=count_steps(1, 10), decimals=0),
                bargauge("Tỷ lệ ký số theo cơ quan", sql.kpi_rows(
                    "documents.signing_rate", *RANGE, {"by": "agency"}, "agency",
                    title="Cơ quan"), 12, unit="percentunit", steps=HIGH, maximum=1,
                    decimals=1),
            )),
        ),
    )
