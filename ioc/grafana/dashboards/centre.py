"""The centre's own health, as the database knows it: collector and alert-engine heartbeats,
the notification outbox (through `notification_health`: no payloads), ingest rate.

Ages are measured to the end of the range ("now" on a live screen). The processes' own
Prometheus metrics (spool, probe lag, rule evaluation time) are not in the database; they are
scraped by Prometheus (README, "Monitoring the monitor").
"""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import GREEN, RED, YELLOW, Dashboard, Row, thresholds
from ioc.grafana.panels import bargauge, column, count_steps, stat, table, timeseries

UID = "ioc-centre"
# A heartbeat every 5 s (collectors) or every cycle (engine): older than this is a problem.
HEARTBEAT_STEPS = thresholds((None, GREEN), (30, YELLOW), (120, RED))
WAITING = "state IN ('pending', 'sending')"
# Collectors not seen for a week are gone (renamed, decommissioned), not down.
RECENT_COLLECTOR = f"seen_at > {sql.TO} - interval '7 days'"
NEVER = 86400  # the age shown when nothing ever beat: a day, red


def _age(column: str) -> str:
    return f"greatest(0, extract(epoch FROM {sql.TO} - {column}))"


COLLECTORS_UP = f"""
SELECT count(*) FILTER (WHERE {_age('seen_at')} < 30)::float8 AS "value"
  FROM collector_heartbeats WHERE {RECENT_COLLECTOR}"""

OLDEST_COLLECTOR = f"""
SELECT coalesce(max({_age('seen_at')}), {NEVER})::float8 AS "value"
  FROM collector_heartbeats WHERE {RECENT_COLLECTOR}"""

COLLECTOR_AGES = f"""
SELECT collector_id || ' (' || shard || ')' AS "Bộ thu thập", {_age('seen_at')}::float8 AS "value"
  FROM collector_heartbeats WHERE {RECENT_COLLECTOR}
 ORDER BY 1"""

ENGINE_AGE = f"""
SELECT coalesce(min({_age('seen_at')}), {NEVER})::float8 AS "value"
  FROM alert_engine_heartbeats"""

OUTBOX_DEPTH = f"""
SELECT count(*)::float8 AS "value" FROM notification_health WHERE {WAITING}"""

OUTBOX_OLDEST = f"""
SELECT coalesce(max({_age('created_at')}), 0)::float8 AS "value"
  FROM notification_health WHERE {WAITING}"""

FAILED_IN_RANGE = """
SELECT count(*)::float8 AS "value" FROM notification_health
 WHERE state = 'failed' AND $__timeFilter(due_at)"""

# A message given up has due_at = when that happened (alerts/outbox.py).
FAILED_BY_CHANNEL = """
SELECT $__timeGroupAlias(due_at, $__interval), channel AS metric, count(*)::float8 AS "value"
  FROM notification_health
 WHERE state = 'failed' AND $__timeFilter(due_at)
 GROUP BY 1, 2
 ORDER BY 1, 2"""

SENT = f"sent_at > {sql.FROM} AND sent_at <= {sql.TO}"
FAILED = f"state = 'failed' AND due_at > {sql.FROM} AND due_at <= {sql.TO}"
OUTBOX_BY_CHANNEL = f"""
SELECT channel AS "Kênh",
       count(*) FILTER (WHERE {WAITING})::float8 AS "Đang chờ",
       count(*) FILTER (WHERE {WAITING} AND failing)::float8 AS "Đang thử lại",
       coalesce(max({_age('created_at')}) FILTER (WHERE {WAITING}), 0)::float8
           AS "Chờ lâu nhất",
       count(*) FILTER (WHERE {SENT})::float8 AS "Đã gửi",
       count(*) FILTER (WHERE {FAILED})::float8 AS "Thất bại"
  FROM notification_health
 WHERE {WAITING} OR ({SENT}) OR ({FAILED})
 GROUP BY channel
 ORDER BY channel"""

# Probe results stored per minute, from the 1-minute rollup (cheap over any range).
INGEST = f"""
SELECT time_bucket({sql.STEP}, bucket) AS "time", 'Kết quả đo' AS metric,
       sum(total)::float8 / (extract(epoch FROM {sql.STEP}) / 60) AS "value"
  FROM probe_rollup_1m
 WHERE bucket >= {sql.FROM} AND bucket < {sql.TO}
 GROUP BY 1
 ORDER BY 1"""


def build(inv: Inventory) -> Dashboard:
    """The centre-health screen (for the engineers, not in the wall playlist)."""
    return Dashboard(
        uid=UID, title="Sức khỏe trung tâm giám sát", tags=("ioc", "centre"),
        description="Nhịp tim bộ thu thập và bộ máy cảnh báo, hàng đợi thông báo, "
                    "tốc độ ghi dữ liệu",
        time_from="now-24h",
        rows=(
            Row(5, (
                stat("Bộ thu thập đang chạy", COLLECTORS_UP, 4, decimals=0,
                     steps=thresholds((None, RED), (1, GREEN)),
                     description="Bộ thu thập có nhịp tim trong 30 giây gần nhất"),
                stat("Nhịp tim bộ thu thập cũ nhất", OLDEST_COLLECTOR, 4,
                     steps=HEARTBEAT_STEPS, unit="s", decimals=0),
                stat("Bộ máy cảnh báo đánh giá lần cuối", ENGINE_AGE, 4,
                     steps=HEARTBEAT_STEPS, unit="s", decimals=0),
                stat("Thông báo đang chờ gửi", OUTBOX_DEPTH, 4, decimals=0,
                     steps=count_steps(5, 50)),
                stat("Thông báo chờ lâu nhất", OUTBOX_OLDEST, 4, unit="s", decimals=0,
                     steps=thresholds((None, GREEN), (60, YELLOW), (300, RED))),
                stat("Gửi thất bại hẳn", FAILED_IN_RANGE, 4, decimals=0,
                     steps=count_steps(1, 1),
                     description="Thông báo đã bỏ cuộc (lỗi vĩnh viễn hoặc quá hạn thử lại) "
                                 "trong khoảng thời gian"),
            )),
            Row(10, (
                bargauge("Nhịp tim từng bộ thu thập (giây trước)", COLLECTOR_AGES, 8, unit="s",
                         steps=HEARTBEAT_STEPS, decimals=0),
                timeseries("Kết quả đo ghi nhận mỗi phút", INGEST, 16, minimum=0),
            )),
            Row(12, (
                timeseries("Gửi thông báo thất bại theo kênh", FAILED_BY_CHANNEL, 12, bars=True,
                           stacked=True, minimum=0),
                table("Hàng đợi thông báo theo kênh", OUTBOX_BY_CHANNEL, 12,
                      overrides=(column("Chờ lâu nhất", "s", decimals=0),)),
            )),
        ),
    )
