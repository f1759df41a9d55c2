"""Payments, reconciliation and documents KPIs on records built so the answers are known."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from ioc import db
from ioc.kpi import kpi_value, read_kpi

from .records import DOSSIERS, WEEK_FROM, WEEK_TO, iso, load, local

APPROX = pytest.approx


def tx(ref: str, intermediary: str, amount: int, status: str, created: datetime,
       settled: datetime | None = None, dossier: str | None = "F",
       synthetic: bool = False) -> dict[str, Any]:
    return {"ref": ref, "dossier_code": dossier, "payment_request_code": f"YC-{ref}",
            "intermediary": intermediary, "amount": amount, "status": status,
            "error_code": "E51" if status == "failed" else None, "created_at": iso(created),
            "settled_at": iso(settled), "latency_ms": 300, "synthetic": synthetic,
            "updated_at": iso(settled or created)}


def row(t: dict[str, Any], file_date: str, **change: Any) -> dict[str, Any]:
    base = {"file_date": file_date, "ref": t["ref"], "dossier_code": t["dossier_code"],
            "payment_request_code": t["payment_request_code"], "amount": t["amount"],
            "settled_at": t["settled_at"]}
    return base | change


TUE9, TUE10 = local(4, 28, 9), local(4, 28, 10)
TXS = [
    tx("T1", "vnpay", 100000, "success", TUE9, TUE10),                # matched
    tx("T2", "vnpay", 50000, "success", TUE9, TUE10),                 # amount differs
    tx("T3", "momo", 20000, "success", TUE9, local(4, 28, 21)),       # treasury row missing
    tx("T4", "momo", 20000, "failed", TUE9),
    tx("T5", "momo", 20000, "pending", TUE9),
    tx("T6", "vnpay", 10000, "success", local(5, 3, 9), local(5, 3, 9)),  # duplicated row
    tx("T7", "vnpay", 10000, "success", TUE9, TUE10, synthetic=True),
    tx("T8", "vnpay", 30000, "success", TUE9, TUE10, dossier="G"),    # dossier not updated
]
T = {t["ref"]: t for t in TXS}
INTERMEDIARY = [row(T["T1"], "2026-04-28"), row(T["T2"], "2026-04-28", amount=5000),
                row(T["T3"], "2026-04-28"), row(T["T8"], "2026-04-28"),
                row(T["T6"], "2026-05-03"), row(T["T6"], "2026-05-03")]
TREASURY = [row(T["T1"], "2026-04-28", settled_at=iso(local(4, 29, 9))),
            row(T["T2"], "2026-04-28"), row(T["T8"], "2026-04-28"), row(T["T6"], "2026-05-03")]


def doc(id_: str, direction: str, received: datetime, due: datetime | None = None,
        handled: datetime | None = None, **flags: bool) -> dict[str, Any]:
    return {"id": id_, "direction": direction, "agency_code": "STP", "received_at": iso(received),
            "due_at": iso(due), "handled_at": iso(handled), "updated_at": iso(received)} | flags


DOCS = [
    doc("V1", "out", TUE9, signed=True), doc("V2", "out", TUE9),
    doc("V3", "in", TUE9, electronic=True, via_national_axis=True),
    doc("V4", "in", TUE9), doc("V5", "in", TUE9, electronic=True),
    doc("V6", "in", local(4, 20, 9), due=local(4, 24, 17)),                     # overdue, open
    doc("V7", "in", TUE9, due=local(5, 8, 17), electronic=True),               # open, in time
    doc("V8", "in", TUE9, due=local(4, 29, 17), handled=local(5, 5, 9)),       # overdue then
    doc("V9", "out", TUE9, synthetic=True),
]


@pytest.fixture(scope="module")
def conn(make_db: Callable[[], str]) -> Iterator[psycopg.Connection]:
    with db.connect(make_db()) as c:
        load(c, "dossiers", DOSSIERS)
        load(c, "transactions", TXS)
        assert load(c, "recon_intermediary", INTERMEDIARY) == 6
        load(c, "recon_intermediary", INTERMEDIARY)      # a re-fetched file replaces itself
        load(c, "recon_treasury", TREASURY)
        load(c, "documents", DOCS)
        yield c


def test_success_rate_by_intermediary_leaves_out_pending(conn: psycopg.Connection) -> None:
    rows = {r.labels["intermediary"]: r.value
            for r in read_kpi(conn, "payments.success_rate", WEEK_FROM, WEEK_TO)}
    assert rows == {"momo": 0.5, "vnpay": 1.0}
    assert kpi_value(conn, "payments.success_rate", WEEK_FROM, WEEK_TO, {"by": "all"}) \
        == APPROX(5 / 6)


def test_reconciliation_matches_three_ways(conn: psycopg.Connection) -> None:
    [match] = read_kpi(conn, "recon.match_rate", WEEK_FROM, WEEK_TO)
    assert (match.numerator, match.denominator) == (1, 5)
    breaks = {r.labels["kind"]: r.value for r in read_kpi(conn, "recon.open_breaks",
                                                          WEEK_FROM, WEEK_TO)}
    assert breaks == {"amount_mismatch": 1, "missing_treasury": 1, "duplicate": 1,
                      "dossier_not_updated": 1}
    assert kpi_value(conn, "recon.unmatched_amount", WEEK_FROM, WEEK_TO) == 110000
    # the oldest break settled Tue 28 10:00 local: 5 days 14 hours before the week end
    assert kpi_value(conn, "recon.break_age", WEEK_FROM, WEEK_TO) == APPROX(5 + 14 / 24)


def test_settlement_lag_uses_the_treasury_statement(conn: psycopg.Connection) -> None:
    rows = {r.labels["intermediary"]: r for r in read_kpi(conn, "payments.settlement_lag",
                                                          WEEK_FROM, WEEK_TO)}
    assert rows["momo"].value == APPROX(0.5)               # T3: 09:00 -> 21:00
    # vnpay: T1 1 day (treasury), T2 and T8 1 hour, T6 0
    assert rows["vnpay"].numerator == APPROX(1 + 2 / 24)


def test_document_rates_and_overdue(conn: psycopg.Connection) -> None:
    assert kpi_value(conn, "documents.signing_rate", WEEK_FROM, WEEK_TO) == APPROX(1 / 2)
    assert kpi_value(conn, "documents.electronic_rate", WEEK_FROM, WEEK_TO) == APPROX(3 / 5)
    assert kpi_value(conn, "documents.national_axis_rate", WEEK_FROM, WEEK_TO) == APPROX(1 / 7)
    [overdue] = read_kpi(conn, "documents.overdue", WEEK_FROM, WEEK_TO)
    assert (overdue.value, overdue.denominator) == (2, 3)     # V6, V8 of V6, V7, V8


def test_throughput_counts_real_records_per_hour(conn: psycopg.Connection) -> None:
    [row_] = read_kpi(conn, "throughput", WEEK_FROM, WEEK_TO, {"system": "payments"})
    assert (row_.numerator, row_.denominator) == (7, 168)
