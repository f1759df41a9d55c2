"""Working-day arithmetic: weekends, Vietnamese public holidays and the government's day swaps."""

from __future__ import annotations

from datetime import date

import pytest

from sim.calendar import add_working_days, vietnam_holidays, working_days_between

VN = vietnam_holidays(range(2024, 2027))


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        pytest.param(date(2025, 3, 12), 1, date(2025, 3, 13), id="wednesday-plus-one"),
        pytest.param(date(2025, 3, 14), 1, date(2025, 3, 17), id="friday-skips-weekend"),
        pytest.param(date(2025, 3, 15), 1, date(2025, 3, 17), id="saturday-next-monday"),
        pytest.param(date(2025, 3, 14), 0, date(2025, 3, 14), id="zero-on-a-working-day"),
        pytest.param(date(2025, 3, 15), 0, date(2025, 3, 17), id="zero-on-a-weekend"),
        pytest.param(date(2025, 4, 4), 1, date(2025, 4, 8), id="hung-kings-monday-2025"),
        pytest.param(date(2025, 4, 29), 1, date(2025, 5, 5), id="30-4-1-5-and-bridge-day-off"),
        pytest.param(date(2025, 4, 25), 1, date(2025, 4, 26), id="saturday-worked-in-exchange"),
        pytest.param(date(2025, 1, 24), 1, date(2025, 2, 3), id="tet-at-yi-2025"),
        pytest.param(date(2026, 2, 13), 3, date(2026, 2, 25), id="tet-binh-ngo-2026"),
        pytest.param(date(2025, 8, 29), 1, date(2025, 9, 3), id="national-day-2025"),
        pytest.param(date(2025, 3, 3), 15, date(2025, 3, 24), id="three-weeks"),
    ],
)
def test_add_working_days_skips_days_offices_are_closed(start: date, n: int, due: date) -> None:
    assert add_working_days(start, n, VN) == due


def test_add_working_days_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        add_working_days(date(2025, 3, 3), -1, VN)


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        pytest.param(date(2025, 3, 14), date(2025, 3, 17), 1, id="over-a-weekend"),
        pytest.param(date(2025, 1, 24), date(2025, 2, 3), 1, id="over-tet"),
        pytest.param(date(2025, 3, 17), date(2025, 3, 17), 0, id="same-day"),
        pytest.param(date(2025, 3, 17), date(2025, 3, 10), 0, id="backwards"),
    ],
)
def test_working_days_between_counts_open_days(start: date, end: date, count: int) -> None:
    assert working_days_between(start, end, VN) == count


def test_lunar_holidays_move_with_the_lunar_calendar() -> None:
    hung_kings = {date(2024, 4, 18), date(2025, 4, 7)}
    tet_first_day = {date(2024, 2, 10), date(2025, 1, 29), date(2026, 2, 17)}
    assert hung_kings | tet_first_day <= VN.days_off
    assert not VN.is_working_day(date(2024, 4, 18))
    assert VN.is_working_day(date(2025, 4, 18))
