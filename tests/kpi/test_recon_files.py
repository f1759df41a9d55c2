"""Reconciliation judges a transaction only once the files of its business day are in (or late).

Days of May 2026 (local time), all working days: Tue 5, Wed 6, Thu 7, Fri 8, Mon 11, Tue 12.
The files of business day D are due at 07:00 on the next working day and overdue at 07:00 on
the one after (docs/KPI.md):
  Tue 5: A1 matched, A2 amount differs               files in on both sides
  Wed 6: B1                                           no file yet (overdue Fri 8 07:00)
  Thu 7: C1                                           intermediary file EMPTY, treasury lists C1
  Fri 8: E1 (vnpay)                                   intermediary file only (overdue Tue 12 07:00)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ioc import db
from ioc.kpi import kpi_value, read_kpi

from .records import dossier, load, local
from .test_payment_document_kpis import row, tx

MON4 = local(5, 4)
BUSINESS_DAY = {"A1": "2026-05-05", "A2": "2026-05-05", "C1": "2026-05-07", "E1": "2026-05-08"}
A1 = tx("A1", "momo", 10000, "success", local(5, 5, 9), local(5, 6, 3))
A2 = tx("A2", "momo", 20000, "success", local(5, 5, 10), local(5, 6, 3))
B1 = tx("B1", "momo", 30000, "success", local(5, 6, 9), local(5, 7, 3))
C1 = tx("C1", "momo", 40000, "success", local(5, 7, 9), local(5, 8, 3))
E1 = tx("E1", "vnpay", 50000, "success", local(5, 8, 9))
DOSSIERS = [dossier("F", local(5, 4, 8), local(5, 20, 17), paid_online=True)]


def line(t: dict[str, Any], **change: Any) -> dict[str, Any]:
    """A file row for a transaction of the fixture."""
    return row(t, BUSINESS_DAY[t["ref"]], **change)


def store_file(conn: psycopg.Connection, side: str, day: str,
               rows: list[dict[str, Any]]) -> int:
    """One daily file through the collectors' write path (empty lists included)."""
    got = conn.execute("SELECT ioc_store_recon_file(%s, %s, %s::jsonb)",
                       (side, date.fromisoformat(day), json.dumps(rows))).fetchone()
    assert got is not None
    return int(got[0])


def status(conn: psycopg.Connection, to: datetime) -> dict[str, str | None]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT ref, kind FROM ioc_recon_status(%s, %s, '{}')", (MON4, to))}


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        load(c, "dossiers", DOSSIERS)
        load(c, "transactions", [A1, A2, B1, C1, E1])
        store_file(c, "intermediary", "2026-05-05", [line(A1), line(A2, amount=2000)])
        store_file(c, "treasury", "2026-05-05", [line(A1), line(A2)])
        assert store_file(c, "intermediary", "2026-05-07", []) == 0
        store_file(c, "treasury", "2026-05-07", [line(C1)])
        store_file(c, "intermediary", "2026-05-08", [line(E1)])
        yield c


def test_a_day_whose_files_are_not_in_is_pending_not_broken(conn: psycopg.Connection) -> None:
    to = local(5, 7)                  # Thu 7 00:00: B1's files are due at 07:00 today
    assert status(conn, to) == {"A1": None, "A2": "amount_mismatch", "B1": "pending"}
    [match] = read_kpi(conn, "recon.match_rate", MON4, to)
    assert (match.numerator, match.denominator) == (1, 2)
    [pending] = read_kpi(conn, "recon.pending", MON4, to)
    assert (pending.value, pending.denominator) == (1, 3)
    breaks = {r.labels["kind"]: (r.value, r.denominator)
              for r in read_kpi(conn, "recon.open_breaks", MON4, to)}
    assert breaks == {"amount_mismatch": (1, 2)}


def test_an_overdue_file_makes_its_transactions_breaks(conn: psycopg.Connection) -> None:
    to = local(5, 8, 8)               # Fri 8 08:00: B1's files were overdue at 07:00
    assert status(conn, to) == {"A1": None, "A2": "amount_mismatch",
                                "B1": "missing_intermediary", "C1": "missing_intermediary"}
    assert kpi_value(conn, "recon.pending", MON4, to) == 0
    assert kpi_value(conn, "recon.unmatched_amount", MON4, to) == 20000 + 30000 + 40000
    # E1: its intermediary file is in, the treasury's is overdue from Tue 12 07:00
    assert status(conn, local(5, 12, 6))["E1"] == "pending"
    assert status(conn, local(5, 12, 7))["E1"] == "missing_treasury"


def test_an_empty_file_is_recorded_and_its_day_judged(conn: psycopg.Connection) -> None:
    files = conn.execute("SELECT side, file_date::text, rows FROM recon_files "
                         "ORDER BY file_date, side").fetchall()
    assert files == [("intermediary", "2026-05-05", 2), ("treasury", "2026-05-05", 2),
                     ("intermediary", "2026-05-07", 0), ("treasury", "2026-05-07", 1),
                     ("intermediary", "2026-05-08", 1)]
    # Thu 7 12:00, long before C1's files are overdue: both are in, so C1 is judged
    assert status(conn, local(5, 7, 12))["C1"] == "missing_intermediary"


def test_pending_by_intermediary(conn: psycopg.Connection) -> None:
    to = local(5, 9)                  # Sat 9: E1 waits for the treasury's Friday file
    rows = {r.labels["intermediary"]: (r.value, r.denominator)
            for r in read_kpi(conn, "recon.pending", MON4, to, {"by": "intermediary"})}
    assert rows == {"momo": (0, 4), "vnpay": (1, 1)}
    by = {r.labels["intermediary"]: r.value
          for r in read_kpi(conn, "recon.match_rate", MON4, to, {"by": "intermediary"})}
    assert by == {"momo": 0.25, "vnpay": None}        # nothing of vnpay's can be judged yet


def test_files_arriving_turn_pending_into_judged(fresh_db_url: str) -> None:
    """Files stored before their transactions, a file fetched again, a transaction corrected."""
    to = local(5, 7)
    with db.connect(fresh_db_url) as c:
        load(c, "dossiers", DOSSIERS)
        store_file(c, "intermediary", "2026-05-05", [line(A1), line(A2, amount=2000)])
        load(c, "transactions", [A1, A2])
        assert status(c, to) == {"A1": "pending", "A2": "pending"}
        store_file(c, "treasury", "2026-05-05", [line(A1), line(A2)])
        assert status(c, to) == {"A1": None, "A2": "amount_mismatch"}
        first = c.execute("SELECT received_at FROM recon_files WHERE side = 'treasury'"
                          ).fetchone()
        c.execute("SELECT ioc_store_recon_file('treasury', '2026-05-05', %s::jsonb, %s)",
                  (json.dumps([line(A1), line(A2)]), local(5, 6, 8)))
        again = c.execute("SELECT received_at, first_received_at, rows FROM recon_files "
                          "WHERE side = 'treasury'").fetchone()
        assert first is not None and again == (local(5, 6, 8), first[0], 2)
        load(c, "transactions", [{**A2, "amount": 2000,
                                  "updated_at": (local(5, 6, 9)).isoformat()}])
        assert status(c, to) == {"A1": None, "A2": "amount_mismatch"}   # treasury says 20000
        store_file(c, "treasury", "2026-05-05", [line(A1), line(A2, amount=2000)])
        assert status(c, to) == {"A1": None, "A2": None}
        store_file(c, "treasury", "2026-05-05", [line(A1)])
        assert status(c, to) == {"A1": None, "A2": "missing_treasury"}


def test_bad_files_are_refused_and_nothing_is_written(fresh_db_url: str) -> None:
    with db.connect(fresh_db_url) as c:
        for side, items, problem in (("bank", [], "side must be"),
                                     ("treasury", {"ref": "A1"}, "must be a JSON array"),
                                     ("treasury", [{"ref": "A1"}], "has no amount")):
            with pytest.raises(psycopg.errors.RaiseException, match=problem):
                c.execute("SELECT ioc_store_recon_file(%s, '2026-05-05', %s::jsonb)",
                          (side, json.dumps(items)))
        assert c.execute("SELECT count(*) FROM recon_files").fetchone() == (0,)


def test_due_and_overdue_follow_working_days(conn: psycopg.Connection) -> None:
    def due(day: str, nth: int) -> datetime:
        got = conn.execute("SELECT ioc_recon_due_at(%s, %s)",
                           (date.fromisoformat(day), nth)).fetchone()
        assert got is not None
        return got[0]

    assert due("2026-05-06", 1) == local(5, 7, 7)
    assert due("2026-05-08", 1) == local(5, 11, 7)        # Friday's files: Monday
    assert due("2026-05-08", 2) == local(5, 12, 7)
    assert due("2026-05-09", 2) - due("2026-05-09", 1) == timedelta(days=1)
