"""Business records built so every KPI answer is known by hand (see docs/KPI.md, worked example).

Week 2026-W18 in Asia/Ho_Chi_Minh: Mon 27 Apr (Hùng Kings day, observed) to Sun 3 May, with
Thu 30 Apr and Fri 1 May public holidays. Working days from Mon 20 Apr, numbered 0..7:
Mon 20, Tue 21, Wed 22, Thu 23, Fri 24, Tue 28, Wed 29, Mon 4 May.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

VN = timezone(timedelta(hours=7))
WEEK_FROM = datetime(2026, 4, 27, tzinfo=VN)
WEEK_TO = datetime(2026, 5, 4, tzinfo=VN)


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A local (UTC+7) instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def dossier(code: str, received: datetime, due: datetime, *, status: int = 4,
            finished: datetime | None = None, returned: datetime | None = None,
            supplements: tuple[tuple[datetime, datetime | None], ...] = (),
            agency: str = "STP", procedure: str = "P1", channel: int = 1, fee: int = 0,
            paid_online: bool = False, digitised: bool = False, e_result: bool = False,
            synced: bool = False, synthetic: bool = False,
            updated: datetime | None = None) -> dict[str, Any]:
    """A dossier record as the portal's /api/dossiers gives it."""
    return {
        "code": code, "procedure_code": procedure, "agency_code": agency, "channel": channel,
        "level": "full", "status": status, "received_at": iso(received), "due_at": iso(due),
        "finished_at": iso(finished), "returned_at": iso(returned),
        "supplements": [{"requested_at": iso(a), "resumed_at": iso(b)} for a, b in supplements],
        "fee": fee, "paid_online": paid_online, "payment_ref": None, "digitised": digitised,
        "e_result": e_result, "synced_national": synced, "synthetic": synthetic,
        "updated_at": iso(updated or finished or returned or received),
    }


MON20 = local(4, 20, 8)
DUE_TUE28 = local(4, 28, 17)
DUE_WED29 = local(4, 29, 17)
DUE_FRI24 = local(4, 24, 17)
DUE_MON04 = local(5, 4, 17)

DOSSIERS = [
    # finished in the week
    dossier("A", local(4, 24, 9), DUE_WED29, status=9, finished=local(4, 28, 10),
            agency="SXD", e_result=True, digitised=True),                        # early
    dossier("B", MON20, DUE_TUE28, status=10, finished=local(4, 29, 9),
            returned=local(4, 29, 15), agency="SXD", e_result=True, digitised=True),  # late
    dossier("C", MON20, DUE_TUE28, status=9, finished=local(4, 29, 16), agency="SXD",
            supplements=((local(4, 22, 8), local(4, 24, 8)),), e_result=True),   # early
    dossier("D", MON20, DUE_TUE28, status=9, finished=local(4, 28, 16), e_result=True),  # on time
    dossier("E", MON20, DUE_WED29, status=9, finished=local(4, 28, 9),
            supplements=((local(4, 21, 8), local(4, 21, 12)),
                         (local(4, 22, 8), local(4, 22, 12)))),                  # late: 2 supps
    dossier("K", local(4, 28, 8), DUE_MON04, status=8, updated=local(4, 29, 10)),  # early (stopped)
    dossier("N", local(4, 28, 8), DUE_WED29, status=9, finished=local(5, 2, 10),
            channel=2, fee=20000),                                              # late (Saturday)
    # open at the end of the week
    dossier("F", local(4, 28, 8), DUE_MON04, channel=2, fee=50000, paid_online=True,
            synced=True),                                                       # within
    dossier("G", MON20, DUE_FRI24),                                             # overdue
    dossier("H", MON20, DUE_FRI24, status=5,
            supplements=((local(4, 23, 17), None),)),                           # within
    dossier("M", MON20, DUE_TUE28, status=9, finished=local(5, 5, 10)),          # overdue then
    # not counted in 2.1 for the week
    dossier("L", MON20, DUE_FRI24, status=9, finished=local(4, 24, 10)),         # before
    dossier("I", local(4, 28, 8), DUE_WED29, status=9, finished=local(5, 2, 10),
            channel=2, synthetic=True),                                         # synthetic
    dossier("J", local(4, 28, 8), DUE_WED29, status=7, channel=3,
            updated=local(4, 29, 8)),                                           # withdrawn
]
# K is synced too (received in the week: F, K, N, J)
DOSSIERS[5]["synced_national"] = True


def load(conn: psycopg.Connection, kind: str, items: list[dict[str, Any]]) -> int:
    """Store records through the collectors' write path."""
    row = conn.execute("SELECT ioc_upsert_records(%s, %s::jsonb)",
                       (kind, json.dumps(items))).fetchone()
    assert row is not None
    return int(row[0])
