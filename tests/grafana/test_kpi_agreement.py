"""Dashboards show the KPI layer's numbers: for the same window a panel's value equals
`ioc_kpi`'s (read through ioc.kpi.read_kpi, as the API and the report read it) to the digit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from psycopg_pool import ConnectionPool

from ioc.kpi import read_kpi
from ioc.kpi.read import kpi_value

from .harness import load_dashboards, panel_result
from .seed import NOW

DASHBOARDS = load_dashboards()
SPAN = timedelta(hours=6)
START = NOW - SPAN
WEEK = NOW - timedelta(days=7)
TODAY = datetime.combine(NOW.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date(), datetime.min.time(),
                         ZoneInfo("Asia/Ho_Chi_Minh"))

# (dashboard, panel title, KPI, window start, filter): the panel's single value is the KPI's.
TILES: list[tuple[str, str, str, datetime, dict[str, Any]]] = [
    ("ioc-wall", "Hồ sơ tiếp nhận hôm nay", "dossiers.received", TODAY, {}),
    ("ioc-wall", "Thanh toán thành công hôm nay", "payments.success_rate", TODAY, {"by": "all"}),
    ("ioc-portal", "Độ sẵn sàng", "availability", START, {"system": "portal"}),
    ("ioc-portal", "Độ trễ p95", "latency.p95", START, {"system": "portal"}),
    ("ioc-portal", "Tỷ lệ đúng hạn (766 - 2.1)", "766.2.1", START, {}),
    ("ioc-payments", "Giao dịch thành công", "payments.success_rate", START, {"by": "all"}),
    ("ioc-payments", "Khớp đối soát (7 ngày)", "recon.match_rate", WEEK, {}),
    ("ioc-payments", "Số tiền chưa khớp (7 ngày)", "recon.unmatched_amount", WEEK, {}),
    ("ioc-payments", "Chờ tệp đối soát (7 ngày)", "recon.pending", WEEK, {}),
    ("ioc-documents", "Văn bản đi được ký số", "documents.signing_rate", START, {}),
    ("ioc-documents", "Văn bản quá hạn xử lý", "documents.overdue", START, {}),
    ("ioc-766", "Hài lòng (5.4)", "766.5.4", START, {}),
]


def _show(uid: str, title: str, seeded: ConnectionPool, span: timedelta = SPAN) -> list[Any]:
    with seeded.connection() as conn:
        return panel_result(conn, DASHBOARDS[uid], title, NOW, span).rows


@pytest.mark.parametrize(("uid", "title", "kpi", "start", "filter_"), TILES,
                         ids=[f"{u}:{t}" for u, t, *_ in TILES])
def test_tile_equals_kpi(seeded: ConnectionPool, uid: str, title: str, kpi: str,
                         start: datetime, filter_: dict[str, Any]) -> None:
    with seeded.connection() as conn:
        expected = kpi_value(conn, kpi, start, NOW, filter_)
    assert expected is not None, "the seed must give this KPI a value"
    assert _show(uid, title, seeded) == [(expected,)]


def test_dossiers_by_status_and_channel_add_up_to_dossiers_received(
        seeded: ConnectionPool) -> None:
    with seeded.connection() as conn:
        received = kpi_value(conn, "dossiers.received", START, NOW)
    for title in ("Hồ sơ theo trạng thái", "Hồ sơ theo kênh"):
        rows = _show("ioc-portal", title, seeded)
        assert sum(v for _, v in rows) == received, title
        assert len([v for _, v in rows if v]) > 1, "the seed spreads dossiers over groups"


def test_766_table_scores_are_the_kpi_layer_scores(seeded: ConnectionPool) -> None:
    span = timedelta(days=7)
    with seeded.connection() as conn:
        scores = read_kpi(conn, "score.decision766", NOW - span, NOW)
    table = _show("ioc-766", "Các chỉ số và điểm", seeded, span)
    by_id = {row[0]: row for row in table}
    assert {f"766.{r.labels['indicator']}": r.value for r in scores} == {
        k: row[5] for k, row in by_id.items()}
    total = _show("ioc-766", "Tổng điểm các chỉ số đo được", seeded, span)
    assert total == [(sum(r.value for r in scores if r.value is not None),)]


def test_sla_table_and_budget_gauge_read_the_kpi_layer(seeded: ConnectionPool) -> None:
    span = timedelta(days=7)
    with seeded.connection() as conn:
        avail = {r.labels["system"]: r.value for r in read_kpi(
            conn, "availability", NOW - span, NOW, {"by": "system"})}
        budget = {r.labels["system"]: r.value for r in read_kpi(
            conn, "slo.error_budget", NOW - span, NOW)}
    table = _show("ioc-sla", "Tổng hợp SLA", seeded, span)
    gauge = _show("ioc-sla", "Ngân sách lỗi còn lại", seeded, span)
    systems = ["portal", "payments", "documents"]  # the table follows the config's order
    assert [row[2] for row in table] == [avail[s] for s in systems]
    assert [row[3] for row in table] == [budget[s] for s in systems]
    assert [v for _, v in gauge] == [budget[s] for s in systems]
