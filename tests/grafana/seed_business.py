"""Business records for the harness (dossiers, payments, reconciliation files, documents), stored
through `ioc_upsert_records` as the collectors store them, spread over the days before NOW."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from .seed import DAYS, NOW

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AGENCIES = ("SO-TP", "SO-KHDT", "UBND-HX")
PROCEDURES = ("TTHC-01", "TTHC-02", "TTHC-03")
INTERMEDIARIES = ("VNPT Pay", "MoMo", "VNPay")


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def _instants(count: int) -> list[datetime]:
    """`count` instants over the DAYS days before NOW, denser towards NOW (so even the last
    hour holds every kind of record), ascending."""
    span = timedelta(days=DAYS)
    return [NOW - span * ((count - i) / count) ** 2 + timedelta(seconds=7) for i in range(count)]


def dossiers(count: int = 480) -> list[dict[str, Any]]:
    """Dossiers of every status, channel and outcome: early, on time, late, open, overdue."""
    items = []
    for i, at in enumerate(_instants(count)):
        done = i % 3 != 0 and at < NOW - timedelta(hours=6)
        finished = at + timedelta(days=1 + i % 5) if done else None
        if finished is not None and finished > NOW:
            finished, done = None, False
        status = (9 if i % 2 else 10) if done else (4, 5, 2, 1, 6, 3)[i % 6]
        items.append({
            "code": f"HS-{i:05d}", "procedure_code": PROCEDURES[i % 3],
            "agency_code": AGENCIES[i % len(AGENCIES)], "channel": 1 + i % 3,
            "level": "full" if i % 2 else "partial", "status": status,
            "received_at": _iso(at), "due_at": _iso(at + timedelta(days=3)),
            "finished_at": _iso(finished),
            "returned_at": _iso(finished + timedelta(hours=2)) if finished and status == 10
            else None,
            "supplements": [], "fee": 50000 if i % 4 == 0 else 0, "paid_online": i % 8 == 0,
            "payment_ref": f"GD-{i:05d}" if i % 4 == 0 else None, "digitised": i % 5 != 0,
            "e_result": i % 3 != 1, "synced_national": i % 10 != 0, "synthetic": i % 50 == 0,
            "updated_at": _iso(finished or at),
        })
    return items


def transactions(count: int = 360) -> list[dict[str, Any]]:
    """Payments through three intermediaries, some failed with an error code."""
    items = []
    for i, at in enumerate(_instants(count)):
        failed = i % 11 == 0
        items.append({
            "ref": f"GD-{i:05d}", "dossier_code": f"HS-{i:05d}",
            "payment_request_code": f"YC-{i:05d}", "intermediary": INTERMEDIARIES[i % 3],
            "amount": 50000 + 1000 * (i % 7), "status": "failed" if failed else "success",
            "error_code": ("E_TIMEOUT", "E_BALANCE")[i % 2] if failed else None,
            "created_at": _iso(at),
            "settled_at": None if failed else _iso(at + timedelta(minutes=3)),
            "latency_ms": 300 + (i * 37) % 900, "synthetic": False,
            "updated_at": _iso(at + timedelta(minutes=3)),
        })
    return items


def recon_files(txs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Daily files of both sides for the settled payments; a few rows missing or wrong."""
    sides: dict[str, list[dict[str, Any]]] = {"intermediary": [], "treasury": []}
    for i, tx in enumerate(txs):
        if tx["settled_at"] is None:
            continue
        day = datetime.fromisoformat(tx["settled_at"]).astimezone(TZ).date() + timedelta(days=1)
        row = {"file_date": day.isoformat(), "ref": tx["ref"], "dossier_code": tx["dossier_code"],
               "payment_request_code": tx["payment_request_code"], "amount": tx["amount"],
               "settled_at": tx["settled_at"]}
        if i % 17 != 0:
            sides["intermediary"].append(row)
        sides["treasury"].append({**row, "amount": tx["amount"] - (1000 if i % 13 == 0 else 0)})
    return sides


def documents(count: int = 420) -> list[dict[str, Any]]:
    """Incoming and outgoing documents, mostly signed and electronic, some past their deadline."""
    items = []
    for i, at in enumerate(_instants(count)):
        handled = at + timedelta(hours=5 + i % 60) if i % 6 else None
        if handled is not None and handled > NOW:
            handled = None
        items.append({
            "id": f"VB-{i:05d}", "direction": "out" if i % 2 else "in",
            "agency_code": AGENCIES[i % len(AGENCIES)], "signed": i % 9 != 0,
            "electronic": i % 7 != 0, "via_national_axis": i % 4 == 0,
            "received_at": _iso(at), "due_at": _iso(at + timedelta(days=2)),
            "handled_at": _iso(handled), "synthetic": False,
            "updated_at": _iso(handled or at),
        })
    return items


def national_counts() -> list[dict[str, Any]]:
    """What the national portal holds per local day (a little under the local count)."""
    first = (NOW - timedelta(days=DAYS)).astimezone(TZ).date()
    return [{"day": (first + timedelta(days=d)).isoformat(), "count": 55}
            for d in range(DAYS + 1)]


def seed_business(conn: psycopg.Connection) -> None:
    """Store every kind of business record through the collectors' entry point."""
    txs = transactions()
    files = recon_files(txs)
    for kind, items in (("dossiers", dossiers()), ("transactions", txs),
                        ("recon_intermediary", files["intermediary"]),
                        ("recon_treasury", files["treasury"]), ("documents", documents()),
                        ("national_counts", national_counts())):
        conn.execute("SELECT ioc_upsert_records(%s, %s::jsonb)", (kind, json.dumps(items)))
