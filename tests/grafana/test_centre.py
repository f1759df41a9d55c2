"""The centre-health screen shows what the seeded database knows, through a view that hides the
outbox's payloads from ioc_grafana."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import psycopg
from psycopg_pool import ConnectionPool

from .harness import load_dashboards, panel_result, run
from .seed import NOW

MODEL = load_dashboards()["ioc-centre"]
HOUR = timedelta(hours=1)


def _value(pool: ConnectionPool, title: str) -> object:
    with pool.connection() as conn:
        rows = panel_result(conn, MODEL, title, NOW, HOUR).rows
    assert len(rows) == 1, (title, rows)
    return rows[0][0]


def test_tiles_show_heartbeats_and_the_outbox(seeded: ConnectionPool) -> None:
    assert _value(seeded, "Bộ thu thập đang chạy") == 1  # host-b beat 45 s ago
    assert _value(seeded, "Nhịp tim bộ thu thập cũ nhất") == 45
    assert _value(seeded, "Bộ máy cảnh báo đánh giá lần cuối") == 0
    assert _value(seeded, "Thông báo đang chờ gửi") == 3
    assert _value(seeded, "Thông báo chờ lâu nhất") == 7 * 60
    assert _value(seeded, "Gửi thất bại hẳn") == 1  # one given up in the last hour


def test_outbox_table_per_channel(seeded: ConnectionPool) -> None:
    with seeded.connection() as conn:
        result = panel_result(conn, MODEL, "Hàng đợi thông báo theo kênh", NOW, HOUR)
    rows = {r[0]: dict(zip(result.columns[1:], r[1:], strict=True)) for r in result.rows}
    assert rows["oncall-email"]["Đang chờ"] == 2
    assert rows["oncall-email"]["Đang thử lại"] == 1
    assert rows["oncall-email"]["Chờ lâu nhất"] == 7 * 60
    assert rows["ops-webhook"]["Đang chờ"] == 1
    # one message every 20 minutes, alternating channels; every third one given up
    assert sum(r["Đã gửi"] + r["Thất bại"] for r in rows.values()) == 3


def test_collector_ages_one_bar_each(seeded: ConnectionPool) -> None:
    with seeded.connection() as conn:
        rows = panel_result(conn, MODEL, "Nhịp tim từng bộ thu thập (giây trước)", NOW,
                            HOUR).rows
    assert rows == [("host-a (0/2)", 3.0), ("host-b (1/2)", 45.0)]


def test_view_shows_no_payload_and_the_outbox_stays_closed(seeded: ConnectionPool) -> None:
    with seeded.connection() as conn:
        columns = run(conn, "SELECT * FROM notification_health LIMIT 1").columns
        assert set(columns) == {"id", "channel", "state", "attempts", "created_at", "due_at",
                                "sent_at", "failing"}
        for secret in ("events", "recipient", "last_error", "idempotency_key"):
            try:
                run(conn, f"SELECT {secret} FROM notifications LIMIT 1")
            except psycopg.errors.InsufficientPrivilege:
                continue
            raise AssertionError(f"ioc_grafana can read notifications.{secret}")


def test_without_any_heartbeat_the_tiles_are_red_not_green(
        make_db: Callable[[], str]) -> None:
    with psycopg.connect(make_db()) as conn:
        def value(title: str) -> object:
            return panel_result(conn, MODEL, title, NOW, HOUR).rows[0][0]

        assert value("Bộ thu thập đang chạy") == 0
        assert value("Nhịp tim bộ thu thập cũ nhất") == 86400
        assert value("Bộ máy cảnh báo đánh giá lần cuối") == 86400
        assert value("Thông báo đang chờ gửi") == 0
    panels = {p["title"]: p for p in MODEL["panels"]}
    for title, zero_colour in (("Bộ thu thập đang chạy", "red"),
                               ("Bộ máy cảnh báo đánh giá lần cuối", "green")):
        steps = panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["color"] == zero_colour
    steps = panels["Bộ máy cảnh báo đánh giá lần cuối"]["fieldConfig"]["defaults"][
        "thresholds"]["steps"]
    assert steps[-1]["color"] == "red" and steps[-1]["value"] < 86400
