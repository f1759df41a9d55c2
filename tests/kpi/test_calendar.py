"""The working-day calendar: holidays package + config overrides, loaded once for SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest

from ioc import db
from ioc.config.model import ProvinceConfig
from ioc.config_sync import sync_config
from ioc.kpi.calendar import build_calendar, sync_calendar

VN = timezone(timedelta(hours=7))


def _day(days: list, d: date) -> tuple[bool, str | None]:
    [found] = [(x.working, x.reason) for x in days if x.day == d]
    return found


@pytest.mark.parametrize(("day", "working", "reason"), [
    (date(2026, 2, 17), False, "Tết Nguyên Đán"),              # lunar new year
    (date(2026, 4, 27), False, "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"),  # Hùng Kings, observed
    (date(2025, 4, 26), True, "ngày làm bù"),                  # Saturday worked for 2 May
    (date(2026, 9, 2), False, "Quốc khánh"),
    (date(2026, 4, 25), False, "cuối tuần"),
    (date(2026, 4, 28), True, None),
])
def test_vietnam_holidays_and_swaps(day: date, working: bool, reason: str) -> None:
    days = build_calendar(date(2025, 1, 1), date(2026, 12, 31))
    assert _day(days, day) == (working, reason)


def test_config_bridge_and_make_up_days_override() -> None:
    days = build_calendar(date(2026, 1, 1), date(2026, 1, 31), days_off=[date(2026, 1, 2)],
                          working_days=[date(2026, 1, 10)])
    assert _day(days, date(2026, 1, 2)) == (False, "ngày nghỉ bù (cấu hình)")
    assert _day(days, date(2026, 1, 10)) == (True, "ngày làm bù (cấu hình)")


def test_sql_working_days_follow_the_loaded_calendar(make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as conn:
        assert sync_calendar(conn) > 0
        assert sync_calendar(conn) == 0                       # unchanged: nothing rewritten
        between = "SELECT ioc_working_days_between(%s, %s)"
        # Fri 13 Feb 2026 to Mon 23 Feb: only Friday works (Tết 16-20, weekends)
        tet = (datetime(2026, 2, 13, tzinfo=VN), datetime(2026, 2, 23, tzinfo=VN))
        assert conn.execute(between, tet).fetchone() == (1.0,)
        # Friday noon to Sunday noon: half a working day, the weekend does not count
        fri_noon = datetime(2026, 1, 9, 12, tzinfo=VN)
        assert conn.execute(between, (fri_noon, fri_noon + timedelta(days=2))).fetchone() \
            == (0.5,)
        # a make-up Saturday from the config counts
        changed = sync_calendar(conn, working_days=[date(2026, 1, 10)])
        assert changed == 1
        assert conn.execute(between, (fri_noon, fri_noon + timedelta(days=2))).fetchone() \
            == (1.5,)


def test_sync_from_config_loads_calendar_and_objectives(make_db: Callable[[], str]) -> None:
    config = ProvinceConfig.model_validate({
        "province": {"name": "Tỉnh Sông Lam", "code": "SL"},
        "systems": {"portal": {"name_vi": "Cổng", "name_en": "Portal",
                               "slo": {"availability": "99.9%", "latency_p95": "800ms"}}},
        "calendar": {"days_off": ["2026-01-02"]},
    })
    with db.connect(make_db()) as conn:
        result = sync_config(conn, config)
        assert result.objectives == 3
        row = conn.execute("SELECT availability, latency_ms, source FROM slo_objectives "
                           "WHERE system = 'portal'").fetchone()
        assert row == (pytest.approx(0.999), 800.0, "config")
        assert conn.execute("SELECT working FROM calendar_days WHERE day = '2026-01-02'"
                            ).fetchone() == (False,)
        assert sync_config(conn, config).objectives == 0
