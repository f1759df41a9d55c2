"""Online payments: success by intermediary, latency, reconciliation breaks and unmatched
amount (reconciliation over the last seven days: the T+1 files lag a day), and the transactions
still awaiting their files (neither matched nor broken, docs/KPI.md)."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.common import (
    RANGE,
    kpi_chart,
    latency_by_target,
    system_screen,
)
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard, Row, thresholds
from ioc.grafana.panels import bargauge, count_steps, rate_steps, stat, table

UID = "ioc-payments"
SYSTEM = "payments"
WEEK = (f"{sql.TO} - interval '7 days'", sql.TO)
VND = "suffix: ₫"
BLUE = "blue"
PENDING_HELP = ("Giao dịch chưa có đủ tệp đối soát T+1 của ngày phát sinh (chưa quá hạn): "
                "chưa tính vào tỷ lệ khớp và chênh lệch")

BREAK_KINDS = (("missing_intermediary", "Thiếu ở trung gian"),
               ("missing_treasury", "Thiếu ở Kho bạc"), ("duplicate", "Trùng lặp"),
               ("amount_mismatch", "Lệch số tiền"), ("code_mismatch", "Lệch mã"),
               ("dossier_not_updated", "Hồ sơ chưa cập nhật"))

BREAKS_BY_KIND = f"""
SELECT b.name AS "Loại chênh lệch", coalesce(k.value, 0) AS "value"
  FROM (VALUES {", ".join(f"({i}, {sql.lit(kind)}, {sql.lit(name)})"
                          for i, (kind, name) in enumerate(BREAK_KINDS))}) AS b(ord, kind, name)
  LEFT JOIN ioc_kpi('recon.open_breaks', {WEEK[0]}, {WEEK[1]}, '{{}}'::jsonb) k
         ON k.labels->>'kind' = b.kind
 ORDER BY b.ord"""

OPEN_BREAKS = f"""
SELECT coalesce(sum(k.value), 0) AS "value"
  FROM ioc_kpi('recon.open_breaks', {WEEK[0]}, {WEEK[1]}, '{{}}'::jsonb) k"""

FAILURES = f"""
SELECT k.labels->>'intermediary' AS "Trung gian", k.labels->>'error_code' AS "Mã lỗi",
       k.value AS "Số giao dịch lỗi"
  FROM ioc_kpi('payments.failures', {sql.FROM}, {sql.TO}, '{{"by": "error_code"}}'::jsonb) k
 ORDER BY 3 DESC, 1, 2"""


def _value(expr: str) -> str:
    return f'SELECT {expr} AS "value"'


def build(inv: Inventory) -> Dashboard:
    """The payments screen."""
    success = rate_steps(0.95, 0.99)
    return system_screen(
        inv, SYSTEM, UID, "Thanh toán trực tuyến - Đối soát",
        "Thanh toán trực tuyến qua các đơn vị trung gian và đối soát T+1",
        header=(
            stat("Giao dịch thành công", _value(
                sql.kpi("payments.success_rate", *RANGE, {"by": "all"})), 3,
                 unit="percentunit", decimals=1, steps=success),
            stat("Khớp đối soát (7 ngày)", _value(sql.kpi("recon.match_rate", *WEEK)), 4,
                 unit="percentunit", decimals=2, steps=rate_steps(0.98, 0.999)),
            stat("Chênh lệch chưa xử lý (7 ngày)", OPEN_BREAKS, 3, decimals=0,
                 steps=count_steps(1, 10)),
            stat("Số tiền chưa khớp (7 ngày)", _value(
                sql.kpi("recon.unmatched_amount", *WEEK)), 3, unit=VND, decimals=0,
                 steps=count_steps(1, 10_000_000)),
            stat("Chờ tệp đối soát (7 ngày)", _value(sql.kpi("recon.pending", *WEEK)), 3,
                 decimals=0, steps=thresholds((None, BLUE)), description=PENDING_HELP),
        ),
        rows=(
            Row(10, (
                bargauge("Tỷ lệ thành công theo trung gian", sql.kpi_rows(
                    "payments.success_rate", *RANGE, {"by": "intermediary"}, "intermediary",
                    title="Trung gian"), 8, unit="percentunit", steps=success, maximum=1,
                    decimals=1),
                kpi_chart("Tỷ lệ thành công theo thời gian", sql.kpi_series(
                    "payments.success_rate", {"by": "intermediary"},
                    "k.labels->>'intermediary'", where="k.value IS NOT NULL"), 8,
                    unit="percentunit", maximum=1),
                latency_by_target(inv, SYSTEM, 8),
            )),
            Row(10, (
                bargauge("Chênh lệch đối soát theo loại (7 ngày)", BREAKS_BY_KIND, 8,
                         unit="short", steps=count_steps(1, 5), decimals=0),
                bargauge("Số tiền chưa khớp theo trung gian (7 ngày)", sql.kpi_rows(
                    "recon.unmatched_amount", *WEEK, {"by": "intermediary"}, "intermediary",
                    title="Trung gian"), 8, unit=VND, steps=count_steps(1, 10_000_000),
                    decimals=0),
                table("Giao dịch lỗi theo mã lỗi", FAILURES, 8),
            )),
        ),
    )
