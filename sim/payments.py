"""The payment gateway: transactions through intermediaries, settlement, reconciliation files.

Transactions come from dossiers' payment requests (see `sim.dossiers.Attempt`). A successful
transaction settles into the collection account overnight after the next working day begins
(T+1); the daily reconciliation file of business day D is available from 07:00 on the next
working day, from both the intermediary's side and the agency/treasury side.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sim.calendar import local_date, local_time
from sim.catalogue import INTERMEDIARY_BY_CODE
from sim.dossiers import Attempt, Dossier
from sim.engine import Record, Step
from sim.wire import iso
from sim.worktime import WorkTime

CREATE, SETTLE = 1, 2
SETTLEMENT_WINDOW_S = 4 * 3600  # settlement batches run 02:00-06:00 local
FILE_READY_HOUR = 7


class Transaction(Record):
    """One payment attempt as the gateway records it."""

    __slots__ = (
        "amount", "created_at", "dossier_code", "error_code", "intermediary", "latency_ms",
        "payment_request_code", "ref", "settled_at", "status", "synthetic",
    )
    SYSTEM: ClassVar[str] = "payments"

    def __init__(self, ref: str, dossier_code: str | None, payment_request_code: str | None,
                 intermediary: str, amount: int, created_at: datetime, error_code: str | None,
                 latency_ms: int, synthetic: bool = False) -> None:
        self.ref = ref
        self.dossier_code = dossier_code
        self.payment_request_code = payment_request_code
        self.intermediary = intermediary
        self.amount = amount
        self.created_at = created_at
        self.error_code = error_code
        self.status = "failed" if error_code else "success"
        self.latency_ms = latency_ms
        self.synthetic = synthetic
        self.settled_at: datetime | None = None
        self.plan: list[Step] = []
        self.step = 0

    def apply(self, op: int, at: datetime, arg: Any) -> None:
        if op == SETTLE:
            self.settled_at = at

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "dossier_code": self.dossier_code,
            "payment_request_code": self.payment_request_code,
            "intermediary": self.intermediary,
            "amount": self.amount,
            "status": self.status,
            "error_code": self.error_code,
            "created_at": iso(self.created_at),
            "settled_at": iso(self.settled_at),
            "latency_ms": self.latency_ms,
            "synthetic": self.synthetic,
            "updated_at": iso(self.updated_at),
        }


def settlement_at(wt: WorkTime, ref: str, created_at: datetime) -> datetime:
    """When a successful transaction reaches the collection account (deterministic per ref)."""
    day = wt.add_days(local_date(created_at), 1)
    return local_time(day, 2) + timedelta(seconds=zlib.crc32(ref.encode()) % SETTLEMENT_WINDOW_S)


def file_ready_at(wt: WorkTime, day: date) -> datetime:
    """From when the reconciliation files of business day `day` can be fetched."""
    return local_time(wt.add_days(day, 1), FILE_READY_HOUR)


def transactions_for(wt: WorkTime, d: Dossier, requested_at: datetime,
                     attempts: Sequence[Attempt]) -> list[Transaction]:
    """The transactions a dossier's payment request leads to, with their plans."""
    out = []
    for n, a in enumerate(attempts, 1):
        ref = f"GD.{d.code}.{n}"
        created_at = requested_at + timedelta(seconds=a.offset_s)
        tx = Transaction(ref, d.code, d.payment_request_code, a.intermediary, d.procedure.fee,
                         created_at, a.error_code, a.latency_ms)
        tx.plan = [(created_at, CREATE, None)]
        if a.error_code is None:
            tx.plan.append((settlement_at(wt, ref, created_at), SETTLE, None))
        out.append(tx)
    return out


def recon_rows(day: date, txs: Iterable[Transaction]) -> list[dict[str, Any]]:
    """Reconciliation file rows of business day `day` for successful, real transactions."""
    file_date = day.isoformat()
    return [
        {
            "file_date": file_date,
            "ref": t.ref,
            "dossier_code": t.dossier_code,
            "payment_request_code": t.payment_request_code,
            "intermediary": t.intermediary,
            "amount": t.amount,
            "settled_at": iso(t.settled_at),
        }
        for t in txs
        if t.status == "success" and not t.synthetic
    ]


def percentile(sorted_values: Sequence[int], p: float) -> int | None:
    """Nearest-rank percentile of sorted values (None when empty)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


def _summary(txs: list[Transaction]) -> dict[str, Any]:
    latencies = sorted(t.latency_ms for t in txs)
    errors: dict[str, int] = {}
    succeeded = amount = 0
    for t in txs:
        if t.error_code is None:
            succeeded += 1
            amount += t.amount
        else:
            errors[t.error_code] = errors.get(t.error_code, 0) + 1
    return {
        "attempts": len(txs),
        "succeeded": succeeded,
        "failed": len(txs) - succeeded,
        "amount_succeeded": amount,
        "by_error_code": dict(sorted(errors.items())),
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p95_ms": percentile(latencies, 0.95),
    }


def payment_stats(txs: Iterable[Transaction]) -> dict[str, Any]:
    """Totals and per-intermediary figures of real transactions."""
    real = [t for t in txs if not t.synthetic]
    by: dict[str, list[Transaction]] = {code: [] for code in INTERMEDIARY_BY_CODE}
    for t in real:
        by.setdefault(t.intermediary, []).append(t)
    return {
        **_summary(real),
        "by_intermediary": [
            {"intermediary": code, "name": INTERMEDIARY_BY_CODE[code].name, **_summary(items)}
            for code, items in by.items()
        ],
    }
