"""The overview wall: the three systems as traffic lights, freshness, alerts, today's figures."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import GREEN, RED, YELLOW, Dashboard, Panel, Row, thresholds
from ioc.grafana.panels import count_steps, stat, timeseries, traffic_light

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


def by_system_chart(inv: Inventory, kpi: str) -> str:
    """A technical KPI per system and step, named by the systems' titles."""
    return sql.kpi_series(kpi, {"by": "system"}, "s.title",
                          joins=f"JOIN {sql.systems_values(inv)} ON s.system = k.labels->>'system'",
                          order="s.ord")


def lights(inv: Inventory) -> list[Panel]:
    """One traffic light per configured system."""
    return [traffic_light(s.title, sql.traffic_light(s.name), 6,
                          description="Xanh: hoạt động tốt; vàng: chậm hoặc lỗi một phần; "
                                      "đỏ: ngừng hoạt động; xám: không có dữ liệu 5 phút gần nhất")
            for s in inv.systems]


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
        rows=(
            Row(7, (*lights(inv), freshness)),
            Row(6, tuple(alerts)),
            Row(13, (
                timeseries("Độ sẵn sàng theo hệ thống", by_system_chart(inv, "availability"), 12,
                           unit="percentunit", maximum=1),
                timeseries("Độ trễ p95 theo hệ thống", by_system_chart(inv, "latency.p95"), 12,
                           unit="ms",
                           minimum=0),
            )),
        ),
    )
