"""SLA and error budget per system, against the configured objectives."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.common import by_system_chart, kpi_chart
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard, Row
from ioc.grafana.panels import column, gauge, rate_steps, table, tiles


def _per_system(inv: Inventory, kpi: str, name: str = "Hệ thống") -> str:
    return f"""
SELECT s.title AS {sql.quote_ident(name)}, k.value AS "value"
  FROM {sql.systems_values(inv)}
  LEFT JOIN ioc_kpi({sql.lit(kpi)}, {sql.FROM}, {sql.TO}, '{{"by": "system"}}'::jsonb) k
         ON k.labels->>'system' = s.system
 ORDER BY s.ord"""


def _budget(inv: Inventory) -> str:
    return f"""
SELECT s.title AS "Hệ thống", k.value AS "value"
  FROM {sql.systems_values(inv)}
  LEFT JOIN ioc_kpi('slo.error_budget', {sql.FROM}, {sql.TO}, '{{}}'::jsonb) k
         ON k.labels->>'system' = s.system
 ORDER BY s.ord"""


def _summary(inv: Inventory) -> str:
    def objective(which: str) -> str:
        return (f"(SELECT o.value FROM ioc_kpi('slo.objective', {sql.FROM}, {sql.TO}, "
                f"jsonb_build_object('system', s.system)) o "
                f"WHERE o.labels->>'objective' = {sql.lit(which)})")

    def kpi(name: str) -> str:
        return (f"(SELECT k.value FROM ioc_kpi({sql.lit(name)}, {sql.FROM}, {sql.TO}, "
                f"jsonb_build_object('system', s.system)) k)")

    return f"""
SELECT s.title AS "Hệ thống", {objective('availability')} AS "Mục tiêu sẵn sàng",
       {kpi('availability')} AS "Sẵn sàng", {kpi('slo.error_budget')} AS "Ngân sách lỗi còn",
       {kpi('error_rate')} AS "Tỷ lệ lỗi", {kpi('latency.p95')} AS "Độ trễ p95",
       {objective('latency_ms')} AS "Mục tiêu độ trễ"
  FROM {sql.systems_values(inv)}
 ORDER BY s.ord"""


def build(inv: Inventory) -> Dashboard:
    """The SLA screen (default window: 28 days, the usual SLO window)."""
    budget = rate_steps(0.0, 0.25)
    return Dashboard(
        uid="ioc-sla", title="SLA và ngân sách lỗi", tags=("ioc", "wall", "sla"),
        description="Độ sẵn sàng, độ trễ và ngân sách lỗi so với mục tiêu của từng hệ thống",
        time_from="now-28d", refresh="5m",
        rows=(
            Row(8, (
                tiles("Độ sẵn sàng", _per_system(inv, "availability"), 12, unit="percentunit",
                      steps=rate_steps(0.99, 0.995), decimals=3),
                gauge("Ngân sách lỗi còn lại", _budget(inv), 12, unit="percentunit",
                      steps=budget, minimum=-1, maximum=1, decimals=0),
            )),
            Row(10, (
                kpi_chart("Độ sẵn sàng theo thời gian", by_system_chart(inv, "availability"),
                           12, unit="percentunit", maximum=1),
                kpi_chart("Độ trễ p95 theo thời gian", by_system_chart(inv, "latency.p95"), 12,
                           unit="ms", minimum=0),
            )),
            Row(8, (
                table("Tổng hợp SLA", _summary(inv), 24, overrides=(
                    column("Mục tiêu sẵn sàng", "percentunit", decimals=2),
                    column("Sẵn sàng", "percentunit", decimals=3,
                           steps=rate_steps(0.99, 0.995), colour_cells=True),
                    column("Ngân sách lỗi còn", "percentunit", decimals=0, steps=budget,
                           colour_cells=True),
                    column("Tỷ lệ lỗi", "percentunit", decimals=2),
                    column("Độ trễ p95", "ms", decimals=0),
                    column("Mục tiêu độ trễ", "ms", decimals=0),
                )),
            )),
        ),
    )
