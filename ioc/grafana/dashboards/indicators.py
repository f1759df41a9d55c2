"""The Decision 766 indicators with their scores (score = max × min(1, rate ÷ threshold))."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.common import RANGE
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Dashboard, Panel, Row, thresholds
from ioc.grafana.panels import bargauge, column, rate_steps, stat, table

UID = "ioc-766"

SCORES = f"ioc_kpi('score.decision766', {sql.FROM}, {sql.TO}, '{{}}'::jsonb)"

TOTAL = f'SELECT sum(s.value) AS "value" FROM {SCORES} s'
SHARE = f'SELECT sum(s.value) / nullif(sum(s.denominator), 0) AS "value" FROM {SCORES} s'

# One row per indicator: its value (the KPI itself), target, scored rate, score and maximum.
TABLE = f"""
SELECT d.id AS "Chỉ số", d.name_vi AS "Tên chỉ số", v.value AS "Giá trị", d.unit AS "Đơn vị",
       d.target AS "Mục tiêu", s.value AS "Điểm", s.denominator AS "Điểm tối đa",
       s.value / nullif(s.denominator, 0) AS "Đạt"
  FROM {SCORES} s
  JOIN kpi_definitions d ON d.id = '766.' || (s.labels->>'indicator')
  LEFT JOIN LATERAL (SELECT k.value FROM ioc_kpi(d.id, {sql.FROM}, {sql.TO}, '{{}}'::jsonb) k)
       v ON true
 ORDER BY string_to_array(s.labels->>'indicator', '.')::int[]"""

SCORE_BARS = f"""
SELECT '766.' || (s.labels->>'indicator') AS "Chỉ số", s.value / nullif(s.denominator, 0)
       AS "value"
  FROM {SCORES} s
 ORDER BY string_to_array(s.labels->>'indicator', '.')::int[]"""


def _rate(title: str, kpi: str, good: float) -> Panel:
    return stat(title, f'SELECT {sql.kpi(kpi, *RANGE)} AS "value"', 4, unit="percentunit",
                decimals=1, steps=rate_steps(good * 0.9, good))


def build(inv: Inventory) -> Dashboard:
    """The 766 screen (default window: the last 30 days)."""
    achieved = rate_steps(0.8, 0.95)
    return Dashboard(
        uid=UID, title="Bộ chỉ số 766 - Chấm điểm", tags=("ioc", "wall", "766"),
        description="Chỉ số phục vụ người dân, doanh nghiệp theo Quyết định 766/QĐ-TTg",
        time_from="now-30d", refresh="5m",
        rows=(
            Row(6, (
                stat("Tổng điểm các chỉ số đo được", TOTAL, 4, decimals=1,
                     steps=thresholds((None, "blue"))),
                stat("Tỷ lệ điểm đạt", SHARE, 4, unit="percentunit", decimals=1,
                     steps=achieved),
                _rate("Đúng hạn (2.1)", "766.2.1", 0.98),
                _rate("Hồ sơ trực tuyến (3.3)", "766.3.3", 0.5),
                _rate("Thanh toán trực tuyến (3.6)", "766.3.6", 0.5),
                _rate("Hài lòng (5.4)", "766.5.4", 0.9),
            )),
            Row(20, (
                table("Các chỉ số và điểm", TABLE, 15, overrides=(
                    column("Giá trị", "short", decimals=3),
                    column("Mục tiêu", "short", decimals=2),
                    column("Điểm", "short", decimals=2),
                    column("Đạt", "percentunit", steps=achieved, decimals=0,
                           colour_cells=True),
                )),
                bargauge("Mức đạt theo chỉ số", SCORE_BARS, 9, unit="percentunit",
                         steps=achieved, maximum=1, decimals=0),
            )),
        ),
    )
