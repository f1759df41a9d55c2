"""The Decision 766 indicators on dossiers built so every answer is known by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest

from ioc import db
from ioc.kpi import KpiError, kpi_value, read_kpi
from ioc.kpi.calendar import sync_calendar

from .records import DOSSIERS, WEEK_FROM, WEEK_TO, load, local

APPROX = pytest.approx


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        sync_calendar(c)
        assert load(c, "dossiers", DOSSIERS) == len(DOSSIERS)
        yield c


def _classes(conn: psycopg.Connection, filter: dict[str, str] | None = None) -> dict[str, float]:
    rows = read_kpi(conn, "dossiers.timeliness", WEEK_FROM, WEEK_TO, filter)
    return {r.labels["class"]: r.value for r in rows if r.value is not None}


def test_timeliness_classes_follow_the_766_rules(conn: psycopg.Connection) -> None:
    # early: A (earlier working day), C (supplement extends the deadline), K (stopped = end)
    # on time: D (due day); late: B, E (two supplements), N (Saturday after a Wednesday deadline)
    # open at the week end: F and H within (H's open supplement stops the clock), G and M overdue
    assert _classes(conn) == {"early": 3, "on_time": 1, "late": 3, "open_within": 2,
                              "open_overdue": 2}


def test_on_time_rate_counts_finished_and_open(conn: psycopg.Connection) -> None:
    [row] = read_kpi(conn, "766.2.1", WEEK_FROM, WEEK_TO)
    assert (row.numerator, row.denominator) == (6, 11)
    assert row.value == APPROX(6 / 11)
    assert kpi_value(conn, "766.5.4", WEEK_FROM, WEEK_TO) == APPROX(6 / 11)


def test_on_time_rate_by_agency(conn: psycopg.Connection) -> None:
    rows = {r.labels["agency"]: r for r in read_kpi(conn, "766.2.1", WEEK_FROM, WEEK_TO,
                                                    {"by": "agency"})}
    assert (rows["SXD"].numerator, rows["SXD"].denominator) == (2, 3)   # A, C early; B late
    assert (rows["STP"].numerator, rows["STP"].denominator) == (4, 8)
    assert kpi_value(conn, "766.2.1", WEEK_FROM, WEEK_TO, {"agency": "SXD"}) == APPROX(2 / 3)


def test_mean_processing_time_in_working_days(conn: psycopg.Connection) -> None:
    # A 1+1/24, B 6+1/24, C 6⅔−⅓−2 (supplement), D 5⅓, E 5.375−⅓−⅓, N 1⅔ (Sat = Mon start)
    [row] = read_kpi(conn, "766.2.2", WEEK_FROM, WEEK_TO)
    assert row.denominator == 6
    assert row.numerator == APPROX(23.125)
    assert row.value == APPROX(23.125 / 6)


def test_open_dossier_is_judged_at_the_window_end(conn: psycopg.Connection) -> None:
    # The week before (ending Mon 27 00:00): G (due Fri 24 17:00) overdue; E overdue already, as
    # its second supplement request came before the end; H within (its open supplement from
    # Thu 23 17:00 extends the deadline); A, B, C, D, M open within; L finished on its due day.
    rows = read_kpi(conn, "dossiers.timeliness", WEEK_FROM - timedelta(days=7), WEEK_FROM)
    assert {r.labels["class"]: r.value for r in rows} == {
        "early": 0, "on_time": 1, "late": 0, "open_within": 6, "open_overdue": 2}


def test_received_based_rates(conn: psycopg.Connection) -> None:
    # received in the week: F (online, fee, paid), K, N (online, fee, unpaid), J (withdrawn);
    # synthetic I never counts
    assert kpi_value(conn, "dossiers.received", WEEK_FROM, WEEK_TO) == 4
    assert kpi_value(conn, "766.3.3", WEEK_FROM, WEEK_TO) == APPROX(2 / 4)
    assert kpi_value(conn, "766.3.6", WEEK_FROM, WEEK_TO) == APPROX(1 / 2)
    assert kpi_value(conn, "766.1.4", WEEK_FROM, WEEK_TO) == APPROX(2 / 4)


def test_result_rates_over_completed_dossiers(conn: psycopg.Connection) -> None:
    # completed in the week: A, B, C, D (e-result), E, N; digitised with e-result: A, B
    assert kpi_value(conn, "766.4.1", WEEK_FROM, WEEK_TO) == APPROX(4 / 6)
    assert kpi_value(conn, "766.4.2", WEEK_FROM, WEEK_TO) == APPROX(2 / 6)


def test_sync_rate_uses_the_national_count_when_larger(make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as c:
        load(c, "dossiers", DOSSIERS)
        load(c, "national_counts", [{"day": "2026-04-27", "count": 3},
                                    {"day": "2026-05-01", "count": 2},
                                    {"day": "2026-05-04", "count": 50}])  # after the week
        [row] = read_kpi(c, "766.1.4", WEEK_FROM, WEEK_TO)
        assert (row.numerator, row.denominator) == (2, 5)


def test_scores_follow_max_times_min_one_rate_over_threshold(conn: psycopg.Connection) -> None:
    scores = {r.labels["indicator"]: r for r in read_kpi(conn, "score.decision766",
                                                         WEEK_FROM, WEEK_TO)}
    assert list(scores) == ["1.4", "2.1", "2.2", "3.3", "3.6", "4.1", "4.2", "5.4"]
    expected = {"1.4": 2 * 0.5, "2.1": 10 * (6 / 11) / 0.98, "2.2": 4.0, "3.3": 6.0,
                "3.6": 4.0, "4.1": 6 * (4 / 6) / 0.8, "4.2": 6 * (2 / 6) / 0.8,
                "5.4": 8 * (6 / 11) / 0.9}
    assert {k: r.value for k, r in scores.items()} == APPROX(expected)
    # 2.2 is scored on processing ÷ allowed working days (23.125 ÷ 26.208⅓), lower is better
    assert scores["2.2"].numerator == APPROX(23.125 / 26.208333333)


def test_no_dossiers_means_unknown_not_zero(conn: psycopg.Connection) -> None:
    empty = (local(1, 5), local(1, 6))
    [row] = read_kpi(conn, "766.3.3", *empty)
    assert row.value is None and row.labels == {}


def test_newer_record_replaces_older_and_older_is_ignored(make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as c:
        first = dict(DOSSIERS[6], status=4, finished_at=None)          # N, open
        first["updated_at"] = local(4, 28, 9).isoformat()
        assert load(c, "dossiers", [first]) == 1
        assert load(c, "dossiers", [DOSSIERS[6]]) == 1                  # N finished
        assert load(c, "dossiers", [first]) == 0                        # stale: ignored
        assert c.execute("SELECT status FROM dossiers WHERE code = 'N'").fetchone() == (9,)


def test_bad_records_are_refused_whole(make_db: Callable[[], str]) -> None:
    with db.connect(make_db()) as c:
        bad = [DOSSIERS[0], {k: v for k, v in DOSSIERS[1].items() if k != "received_at"}]
        with pytest.raises(psycopg.errors.RaiseException, match="item 2 has no received_at"):
            load(c, "dossiers", bad)
        with pytest.raises(psycopg.errors.RaiseException, match="unknown kind 'dossier'"):
            load(c, "dossier", [DOSSIERS[0]])
        assert c.execute("SELECT count(*) FROM dossiers").fetchone() == (0,)


@pytest.mark.parametrize(("kpi", "filter", "message"), [
    ("766.9.9", {}, "unknown KPI '766.9.9'"),
    ("766.2.1", {"system": "portal"}, "does not take filter 'system'"),
    ("766.2.1", {"by": "system"}, "cannot be grouped by 'system'"),
])
def test_bad_kpi_requests_say_what_is_accepted(conn: psycopg.Connection, kpi: str,
                                               filter: dict[str, str], message: str) -> None:
    with pytest.raises(KpiError, match=message):
        read_kpi(conn, kpi, WEEK_FROM, WEEK_TO, filter)
