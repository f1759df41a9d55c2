"""The public-service portal: latency by endpoint, dossiers by status and channel, overdue by
agency, on-time rate (Decision 766 indicator 2.1)."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.common import (
    RANGE,
    TODAY,
    kpi_chart,
    latency_by_target,
    latency_tile,
    system_screen,
)
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard, Row, thresholds
from ioc.grafana.panels import bargauge, count_steps, rate_steps, stat

UID = "ioc-portal"
SYSTEM = "portal"

STATUSES = ((1, "Mới đăng ký"), (2, "Được tiếp nhận"), (3, "Không được tiếp nhận"),
            (4, "Đang xử lý"), (5, "Yêu cầu bổ sung"), (6, "Yêu cầu nghĩa vụ tài chính"),
            (7, "Công dân rút hồ sơ"), (8, "Dừng xử lý"), (9, "Đã xử lý xong"),
            (10, "Đã trả kết quả"))
CHANNELS = ((1, "Trực tiếp"), (2, "Trực tuyến"), (3, "Bưu chính"))


def received_by(column: str, names: tuple[tuple[int, str], ...], title: str) -> str:
    """Dossiers received in the range by a code column, from the KPI layer's dossier_facts
    (real dossiers only; the groups add up to the KPI dossiers.received)."""
    values = ", ".join(f"({code}, {sql.lit(name)})" for code, name in names)
    return f"""
SELECT c.name AS {sql.quote_ident(title)}, count(d.code)::float8 AS "value"
  FROM (VALUES {values}) AS c(code, name)
  LEFT JOIN dossier_facts d ON d.{column} = c.code
       AND d.received_at >= {sql.FROM} AND d.received_at < {sql.TO}
 GROUP BY c.code, c.name
 ORDER BY c.code"""


def overdue(start: str, end: str, by: dict[str, object]) -> str:
    """Open dossiers past their deadline at the end of the window (766 timeliness class)."""
    return f"""(SELECT k.numerator FROM ioc_kpi('dossiers.timeliness', {start}, {end},
        {sql.jsonb(by)}) k WHERE k.labels->>'class' = 'open_overdue')"""


OVERDUE_BY_AGENCY = f"""
SELECT {sql.display_name("agency", "k.labels->>'agency'")} AS "Cơ quan", k.numerator AS "value"
  FROM ioc_kpi('dossiers.timeliness', {sql.FROM}, {sql.TO}, '{{"by": "agency"}}'::jsonb) k
 WHERE k.labels->>'class' = 'open_overdue'
 ORDER BY 2 DESC, 1"""


def build(inv: Inventory) -> Dashboard:
    """The portal screen."""
    count = thresholds((None, "blue"))
    on_time = rate_steps(0.95, 0.98)
    return system_screen(
        inv, SYSTEM, UID, "Cổng dịch vụ công - Hồ sơ",
        "Cổng dịch vụ công và hệ thống một cửa điện tử",
        header=(
            latency_tile(SYSTEM),
            stat("Tỷ lệ đúng hạn (766 - 2.1)",
                 f'SELECT {sql.kpi("766.2.1", *RANGE)} AS "value"', 4,
                 unit="percentunit", decimals=1, steps=on_time),
            stat("Hồ sơ tiếp nhận hôm nay",
                 f'SELECT {sql.kpi("dossiers.received", *TODAY)} AS "value"', 4,
                 steps=count, decimals=0),
            stat("Hồ sơ quá hạn đang mở", f'SELECT {overdue(*RANGE, {})} AS "value"', 4,
                 steps=count_steps(1, 20), decimals=0),
        ),
        rows=(
            Row(10, (
                latency_by_target(inv, SYSTEM, 12),
                bargauge("Hồ sơ theo trạng thái", received_by("status", STATUSES, "Trạng thái"),
                         6, unit="short", steps=count, decimals=0),
                bargauge("Hồ sơ theo kênh", received_by("channel", CHANNELS, "Kênh"), 6,
                         unit="short", steps=count, decimals=0),
            )),
            Row(10, (
                bargauge("Hồ sơ quá hạn theo cơ quan", OVERDUE_BY_AGENCY, 8, unit="short",
                         steps=count_steps(1, 10), decimals=0),
                bargauge("Tỷ lệ đúng hạn theo cơ quan", sql.kpi_rows(
                    "766.2.1", *RANGE, {"by": "agency"}, "agency", title="Cơ quan"), 8,
                    unit="percentunit", steps=on_time, maximum=1, decimals=1),
                kpi_chart("Hồ sơ tiếp nhận", sql.kpi_series(
                    "dossiers.received", {}, "'Hồ sơ tiếp nhận'"), 8, bars=True, minimum=0),
            )),
        ),
    )
