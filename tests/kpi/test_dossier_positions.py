"""Working-time positions and finished dossiers' 766 judgement stored at upsert (migration 061).

Calendar of the worked example (tests/kpi/records.py): Mon 20 - Fri 24 Apr 2026 work, Mon 27 Apr
(Hùng Kings, observed), Thu 30 Apr and Fri 1 May are holidays, Tue 28 and Wed 29 work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from ioc import db
from ioc.config.model import ProvinceConfig
from ioc.config_sync import sync_config
from ioc.kpi import kpi_value, read_kpi
from ioc.kpi.calendar import sync_calendar

from .records import DOSSIERS, MON20, WEEK_FROM, WEEK_TO, dossier, load, local

APPROX = pytest.approx
EARLY, ON_TIME, LATE = 1, 2, 3
STORED = ("SELECT supplement_requests, end_class, processing_us / 86400e6::float8 "
          "FROM dossiers WHERE code = %s")


@pytest.fixture
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        sync_calendar(c)
        yield c


def _stale_positions(conn: psycopg.Connection) -> int:
    """Rows whose stored positions differ from the live calendar's (should be none)."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM dossiers
                    WHERE received_pos IS DISTINCT FROM ioc_wd_pos(received_at)
                       OR due_pos IS DISTINCT FROM ioc_wd_pos(due_at)
                       OR end_pos IS DISTINCT FROM ioc_wd_pos(end_at))
                + (SELECT count(*) FROM dossier_supplements
                    WHERE requested_pos IS DISTINCT FROM ioc_wd_pos(requested_at)
                       OR resumed_pos IS DISTINCT FROM ioc_wd_pos(resumed_at))""").fetchone()
    assert row is not None
    return int(row[0])


def _stored(conn: psycopg.Connection, code: str) -> tuple[Any, ...]:
    row = conn.execute(STORED, (code,)).fetchone()
    assert row is not None
    return tuple(row)


def test_upsert_stores_positions_and_the_judgement_at_the_end(conn: psycopg.Connection) -> None:
    load(conn, "dossiers", DOSSIERS)
    assert _stale_positions(conn) == 0
    # A: Fri 24 09:00 to Tue 28 10:00 is 15 h + 10 h of working days; due Wed 29: early
    span = conn.execute("SELECT end_pos - received_pos FROM dossiers WHERE code = 'A'").fetchone()
    assert span == (APPROX(1 + 1 / 24),)
    assert _stored(conn, "A") == (0, EARLY, APPROX(1 + 1 / 24))
    # C: its supplement (Wed 22 08:00 to Fri 24 08:00, two working days) moves the deadline
    sup = conn.execute("SELECT resumed_pos - requested_pos FROM dossier_supplements "
                       "WHERE code = 'C'").fetchone()
    assert sup == (APPROX(2.0),)
    assert _stored(conn, "C") == (1, EARLY, APPROX(6 + 2 / 3 - 1 / 3 - 2))
    assert _stored(conn, "E")[:2] == (2, LATE)            # two supplement requests
    assert _stored(conn, "M")[:2] == (0, LATE)            # judged at its end, after the week
    assert _stored(conn, "F") == (0, None, None)          # open: judged at each window's end
    assert _stored(conn, "H") == (1, None, None)


def test_supplement_rows_written_directly_rejudge_their_dossier(conn: psycopg.Connection
                                                                 ) -> None:
    load(conn, "dossiers", DOSSIERS)
    # D: Mon 20 08:00 to Tue 28 16:00 = 5⅓ working days, due Tue 28 17:00: on time
    assert _stored(conn, "D") == (0, ON_TIME, APPROX(5 + 1 / 3))
    conn.execute("INSERT INTO dossier_supplements (code, seq, requested_at, resumed_at) "
                 "VALUES ('D', 1, %s, %s)", (local(4, 21, 8), local(4, 22, 8)))
    # one working day in supplement: deadline Wed 29 17:00, so finishing Tuesday is early
    assert _stored(conn, "D") == (1, EARLY, APPROX(4 + 1 / 3))
    conn.execute("UPDATE dossier_supplements SET resumed_at = %s WHERE code = 'D'",
                 (local(4, 21, 12),))
    # four hours: deadline Tue 28 21:00, the same working day: on time
    assert _stored(conn, "D") == (1, ON_TIME, APPROX(5 + 1 / 3 - 1 / 6))
    assert _stale_positions(conn) == 0
    conn.execute("DELETE FROM dossier_supplements WHERE code = 'D'")
    assert _stored(conn, "D") == (0, ON_TIME, APPROX(5 + 1 / 3))
    conn.execute("TRUNCATE dossier_supplements")
    # C without its supplement: finished Wed 29 16:00 after its Tue 28 17:00 deadline
    assert _stored(conn, "C") == (0, LATE, APPROX(6 + 2 / 3 - 1 / 3))


def _config(days_off: list[str]) -> ProvinceConfig:
    return ProvinceConfig.model_validate({
        "province": {"name": "Tỉnh Sông Lam", "code": "SL"},
        "calendar": {"days_off": days_off},
    })


def test_a_new_bridge_holiday_moves_positions_from_that_day(conn: psycopg.Connection) -> None:
    load(conn, "dossiers", [
        dossier("P", MON20, local(4, 28, 17), status=9, finished=local(4, 29, 9)),
        dossier("Q", local(4, 28, 8), local(4, 29, 17)),                       # open
        dossier("L", MON20, local(4, 24, 17), status=9, finished=local(4, 24, 10)),
    ])
    window = (local(4, 27), local(4, 29, 18))
    xmin = "SELECT xmin::text FROM dossiers WHERE code = %s"
    before = {c: conn.execute(xmin, (c,)).fetchone() for c in ("P", "L")}
    classes = "dossiers.timeliness"
    assert {r.labels["class"]: r.value for r in read_kpi(conn, classes, *window)
            if r.value} == {"late": 1, "open_overdue": 1}
    [row] = read_kpi(conn, "766.2.2", *window)
    assert row.numerator == APPROX(6 + 1 / 24)              # Mon 20 08:00 to Wed 29 09:00
    assert sync_config(conn, _config(["2026-04-29"])).calendar_days == 1
    # Wed 29 is now off: P ended at the start of Mon 4 May (5⅔ working days), still late;
    # Q's deadline and the window end both sit at that start: no longer past the deadline
    assert {r.labels["class"]: r.value for r in read_kpi(conn, classes, *window)
            if r.value} == {"late": 1, "open_within": 1}
    [row] = read_kpi(conn, "766.2.2", *window)
    assert row.numerator == APPROX(5 + 2 / 3)
    assert _stale_positions(conn) == 0
    # only rows with an instant on or after the changed day were rewritten
    assert conn.execute(xmin, ("L",)).fetchone() == before["L"]
    assert conn.execute(xmin, ("P",)).fetchone() != before["P"]
    assert sync_config(conn, _config([])).calendar_days == 1        # and back
    [row] = read_kpi(conn, "766.2.2", *window)
    assert row.numerator == APPROX(6 + 1 / 24)


def test_open_means_no_end_or_an_end_from_the_window_end_on(conn: psycopg.Connection) -> None:
    load(conn, "dossiers", [
        dossier("F", local(4, 28, 8), local(5, 4, 17)),                        # no end
        dossier("R", local(4, 28, 8), local(5, 4, 17), status=9, finished=WEEK_TO),
        dossier("S", local(4, 28, 8), local(5, 4, 17), status=9,
                finished=WEEK_TO - timedelta(minutes=1)),                     # Sunday 23:59
    ])
    rows = "SELECT code, finished, klass FROM ioc_dossier_timeliness(%s, %s, '{}') ORDER BY code"
    assert conn.execute(rows, (WEEK_FROM, WEEK_TO)).fetchall() == [
        ("F", False, "open_within"), ("R", False, "open_within"), ("S", True, "on_time")]
    next_week = (WEEK_TO, WEEK_TO + timedelta(days=7))
    assert conn.execute(rows, next_week).fetchall() == [
        ("F", False, "open_overdue"), ("R", True, "on_time")]


@pytest.mark.parametrize("filter", [{}, {"agency": "STP"}, {"procedure": "P1", "level": "full"}])
def test_score_rates_are_the_kpi_values(conn: psycopg.Connection,
                                        filter: dict[str, str]) -> None:
    load(conn, "dossiers", DOSSIERS)
    scores = read_kpi(conn, "score.decision766", WEEK_FROM, WEEK_TO, filter)
    for s in scores:
        if s.labels["indicator"] != "2.2":       # 2.2 is scored on processing ÷ allowed time
            kpi = "766." + s.labels["indicator"]
            assert s.numerator == kpi_value(conn, kpi, WEEK_FROM, WEEK_TO, filter), kpi
    empty = read_kpi(conn, "score.decision766", local(1, 5), local(1, 6), filter)
    assert [s.numerator for s in empty] == [None] * 8


def test_the_calendar_refresh_reaches_supplement_requests(conn: psycopg.Connection) -> None:
    # U (open, due Wed 22) asked for a supplement on Fri 24 08:00, still unanswered: judged at
    # Mon 27 00:00 (= start of Tue 28), 4 working days since Mon 20 08:00 less 16 h stopped
    load(conn, "dossiers", [dossier("U", MON20, local(4, 22, 17), status=5,
                                    supplements=((local(4, 24, 8), None),))])
    days = ("SELECT processing_days FROM ioc_dossier_timeliness(%s, %s, '{}') "
            "WHERE code = 'U'")
    window = (WEEK_FROM - timedelta(days=7), WEEK_FROM)
    assert conn.execute(days, window).fetchone() == (APPROX(4.0),)
    # Fri 24 off: the request now sits at the start of Tue 28, where the window ends
    sync_calendar(conn, days_off=[date(2026, 4, 24)])
    assert _stale_positions(conn) == 0
    assert conn.execute(days, window).fetchone() == (APPROX(3 + 2 / 3),)


def _mean_processing(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """2.2 ungrouped and by procedure, and its scored rate: every reader's value, to the bit."""
    rows = [(r.labels, r.value, r.numerator, r.denominator)
            for f in ({}, {"by": "procedure"})
            for r in read_kpi(conn, "766.2.2", WEEK_FROM, WEEK_TO, f)]
    return rows + [(s.labels, s.value, s.numerator)
                   for s in read_kpi(conn, "score.decision766", WEEK_FROM, WEEK_TO)
                   if s.labels["indicator"] == "2.2"]


def test_mean_processing_time_does_not_depend_on_row_order(conn: psycopg.Connection) -> None:
    # 60 completed dossiers whose working times (minutes apart) are not binary fractions
    load(conn, "dossiers", [
        dossier(f"T{i:02}", MON20 + timedelta(minutes=7 * i), local(4, 29, 17), status=9,
                finished=local(4, 28, 8) + timedelta(minutes=13 * i),
                procedure=f"P{i % 3}") for i in range(60)])
    # float sums of these times depend on the order of addition: the stored integers do not
    sums = conn.execute("SELECT sum(processing_us / 86400e6::float8 ORDER BY code), "
                        "sum(processing_us / 86400e6::float8 ORDER BY code DESC) FROM dossiers"
                        ).fetchone()
    assert sums is not None and sums[0] != sums[1]
    before = _mean_processing(conn)
    assert before[0][3] == 60
    # move half the rows (an UPDATE writes new row versions after the others), then read them
    # in another order again, by a sequential scan
    conn.execute("UPDATE dossiers SET updated_at = updated_at + interval '1 second' "
                 "WHERE code < 'T30'")
    assert _mean_processing(conn) == before
    conn.execute("SET enable_indexscan = off; SET enable_indexonlyscan = off; "
                 "SET enable_bitmapscan = off")
    assert _mean_processing(conn) == before
