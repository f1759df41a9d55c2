"""The overview wall: the three systems as traffic lights, freshness, alerts, today's figures."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.alerts import transitions
from ioc.grafana.dashboards.common import TODAY, by_system_chart, kpi_chart, light
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import GREEN, RED, YELLOW, Dashboard, Panel, Row, thresholds
from ioc.grafana.panels import count_steps, rate_steps, stat

UID = "ioc-wall"

FRESHNESS_SQL = f"""
SELECT coalesce(extract(epoch FROM {sql.TO} - max(p.time)), 86400)::float8 AS "value"
  FROM probe_results p
 WHERE p.time > {sql.TO} - interval '1 day' AND p.time <= {sql.TO}"""

OPEN_ALERTS_SQL = """
SELECT count(*)::float8 AS "value" FROM alerts a WHERE a.state = 'firing'"""

CRITICAL_ALERTS_SQL = """
SELECT count(*)::float8 AS "value" FROM alerts a
 WHERE a.state = 'firing' AND a.severity = 'critical'"""


def _value(expr: str) -> str:
    return f'SELECT {expr} AS "value"'


def today(inv: Inventory) -> list[Panel]:
    """Today's business figures (province day), from the KPI layer."""
    count = thresholds((None, "blue"))
    return [
        stat("Hồ sơ tiếp nhận hôm nay", _value(sql.kpi("dossiers.received", *TODAY)), 4,
             steps=count, decimals=0),
        stat("Giao dịch thanh toán hôm nay", _value(
            sql.kpi("throughput", *TODAY, {"system": "payments"}, column="numerator")), 4,
             steps=count, decimals=0),
        stat("Thanh toán thành công hôm nay", _value(
            sql.kpi("payments.success_rate", *TODAY, {"by": "all"})), 4,
             unit="percentunit", decimals=1, steps=rate_steps(0.95, 0.99)),
        stat("Văn bản đến/đi hôm nay", _value(
            sql.kpi("throughput", *TODAY, {"system": "documents"}, column="numerator")), 4,
             steps=count, decimals=0),
    ]


def build(inv: Inventory) -> Dashboard:
    """The overview wall screen."""
    freshness = stat("Độ mới dữ liệu", FRESHNESS_SQL, 6, unit="s", decimals=0,
                     steps=thresholds((None, GREEN), (120, YELLOW), (300, RED)),
                     description="Thời gian từ lần đo gần nhất; đỏ khi dữ liệu cũ hơn 5 phút")
    alerts = [
        stat("Cảnh báo đang mở", OPEN_ALERTS_SQL, 4, steps=count_steps(1, 5), decimals=0),
        stat("Cảnh báo nghiêm trọng", CRITICAL_ALERTS_SQL, 4, steps=count_steps(1, 1),
             decimals=0),
    ]
    return Dashboard(
        uid=UID, title="IOC - Tổng quan", tags=("ioc", "wall"),
        description="Màn hình tổng quan của Trung tâm giám sát, điều hành thông minh",
        annotations=(transitions(),),
        rows=(
            Row(7, (*[light(inv, s.name, 6) for s in inv.systems], freshness)),
            Row(6, (*alerts, *today(inv))),
            Row(13, (
                kpi_chart("Độ sẵn sàng theo hệ thống", by_system_chart(inv, "availability"),
                           12, unit="percentunit", maximum=1),
                kpi_chart("Độ trễ p95 theo hệ thống", by_system_chart(inv, "latency.p95"), 12,
                           unit="ms", minimum=0),
            )),
        ),
    )
