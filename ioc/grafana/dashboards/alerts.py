"""Alerts: what is open now, every transition as an annotation, states over time."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import GREEN, RED, YELLOW, Annotation, Dashboard, Row, value_mappings
from ioc.grafana.panels import column, count_steps, stat, state_timeline, table, timeseries

UID = "ioc-alerts"

STATES = value_mappings({0: ("Đã xử lý", GREEN), 1: ("Chờ xác nhận", YELLOW),
                         2: ("Đang cảnh báo", RED)})
# An alert's name on the wall: its rule and what it is about.
ALERT_NAME = ("rule_id || coalesce(' · ' || (labels->>'target'), ' · ' || (labels->>'system'), "
              "'')")


def transitions(system: str | None = None) -> Annotation:
    """Transitions into firing and resolved, optionally of one system only."""
    only = f" AND labels->>'system' = {sql.lit(system)}" if system else ""
    return Annotation("Chuyển trạng thái cảnh báo", f"""
SELECT at AS "time", {ALERT_NAME} || ': ' || from_state || ' → ' || to_state AS text,
       concat_ws(',', severity, to_state, labels->>'system') AS tags
  FROM alert_transitions
 WHERE $__timeFilter(at) AND to_state IN ('firing', 'resolved'){only}
 ORDER BY at""")


def _count(where: str) -> str:
    return f'SELECT count(*)::float8 AS "value" FROM alerts WHERE {where}'


# State of every alert over the range: its state at the start, then each transition.
TIMELINE = f"""
WITH start AS (
    SELECT DISTINCT ON (fingerprint) fingerprint, {ALERT_NAME} AS name, to_state
      FROM alert_transitions WHERE at <= {sql.FROM}
     ORDER BY fingerprint, at DESC),
points AS (
    SELECT {sql.FROM} AS at, name, to_state FROM start
     WHERE to_state IN ('pending', 'firing')
    UNION ALL
    SELECT at, {ALERT_NAME}, to_state FROM alert_transitions
     WHERE at > {sql.FROM} AND at <= {sql.TO})
SELECT at AS "time", name AS metric,
       CASE to_state WHEN 'firing' THEN 2 WHEN 'pending' THEN 1 ELSE 0 END AS "value"
  FROM points
 ORDER BY 1, 2"""

OPEN = """
SELECT CASE severity WHEN 'critical' THEN 'Nghiêm trọng' WHEN 'warning' THEN 'Cảnh báo'
       ELSE 'Thông tin' END AS "Mức độ",
       rule_id AS "Quy tắc", labels->>'system' AS "Hệ thống",
       coalesce(annotations->>'summary', '') AS "Mô tả",
       CASE state WHEN 'firing' THEN 'Đang cảnh báo' ELSE 'Chờ xác nhận' END AS "Trạng thái",
       coalesce(firing_at, started_at) AS "Từ lúc", value AS "Giá trị",
       coalesce(acked_by, '') AS "Người xác nhận"
  FROM alerts
 WHERE state IN ('pending', 'firing')
 ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
          coalesce(firing_at, started_at)"""

PER_INTERVAL = """
SELECT $__timeGroupAlias(at, $__interval), severity AS metric, count(*)::float8 AS "value"
  FROM alert_transitions
 WHERE $__timeFilter(at) AND to_state = 'firing'
 GROUP BY 1, 2
 ORDER BY 1, 2"""


def build(inv: Inventory) -> Dashboard:
    """The alerts screen."""
    return Dashboard(
        uid=UID, title="Cảnh báo", tags=("ioc", "wall", "alerts"),
        description="Cảnh báo đang mở, lịch sử chuyển trạng thái và trạng thái theo thời gian",
        time_from="now-24h", annotations=(transitions(),),
        rows=(
            Row(5, (
                stat("Đang cảnh báo", _count("state = 'firing'"), 6, decimals=0,
                     steps=count_steps(1, 5)),
                stat("Nghiêm trọng", _count("state = 'firing' AND severity = 'critical'"), 6,
                     decimals=0, steps=count_steps(1, 1)),
                stat("Chờ xác nhận", _count("state = 'pending'"), 6, decimals=0,
                     steps=count_steps(1, 5)),
                stat("Chưa ai nhận xử lý", _count("state = 'firing' AND acked_at IS NULL"), 6,
                     decimals=0, steps=count_steps(1, 1)),
            )),
            Row(11, (state_timeline("Trạng thái cảnh báo theo thời gian", TIMELINE, 24,
                                    STATES),)),
            Row(10, (
                table("Cảnh báo đang mở", OPEN, 16,
                      overrides=(column("Từ lúc", "dateTimeAsLocal"),)),
                timeseries("Số lần phát cảnh báo", PER_INTERVAL, 8, bars=True, stacked=True,
                           minimum=0),
            )),
        ),
    )
