"""The province model: generates the three systems' records hour by hour and runs their plans.

Each simulated hour is generated from its own RNG, seeded by (seed, system, hour), so a seed
gives the same records whatever the speed, the backfill or how often the model is advanced.
Records exist from `origin_at` (the start of the backfill) on.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from random import Random
from typing import Any, TypeVar

from sim.calendar import VN_TZ, local_date, vietnam_holidays
from sim.catalogue import COMMUNES, INTERMEDIARY_BY_CODE, PROCEDURES, Procedure
from sim.documents import ARRIVE as DOC_ARRIVE
from sim.documents import Document, plan_document
from sim.dossiers import (
    ARRIVE,
    CLOSING_OPS,
    IN_PERSON,
    ONLINE,
    PAY_REQUEST,
    POST,
    Dossier,
    DossierPlanner,
    make_attempt,
)
from sim.dossiers import INTERMEDIARY_CHOICE as _INTERMEDIARIES
from sim.engine import ChangeLog, Engine, Hold, Record
from sim.payments import CREATE, Transaction, file_ready_at, transactions_for
from sim.worktime import Weighted, WorkTime, poisson

HOUR = timedelta(hours=1)
R = TypeVar("R")
_PROCEDURES = Weighted(PROCEDURES, [p.weight for p in PROCEDURES])
_COMMUNES = Weighted([c.code for c in COMMUNES], [c.weight for c in COMMUNES])
# Channel mix of dossiers submitted in office hours, by service level (in person, online, post).
_CHANNELS = {
    "full": Weighted((IN_PERSON, ONLINE, POST), (0.22, 0.75, 0.03)),
    "partial": Weighted((IN_PERSON, ONLINE, POST), (0.70, 0.25, 0.05)),
}


@dataclass(frozen=True)
class Volumes:
    """How much the province produces; per working day, with quieter days when offices close."""

    dossiers_per_day: float = 5000
    documents_per_day: float = 4000
    online_payment_share: float = 0.30  # of dossiers of fee-bearing procedures
    closed_day_share: float = 0.05  # dossiers on weekends and holidays, vs a working day
    documents_closed_day_share: float = 0.02


class NotReady(Exception):
    """A reconciliation file asked for before it exists."""

    def __init__(self, ready_at: datetime) -> None:
        super().__init__(f"not available before {ready_at.isoformat()}")
        self.ready_at = ready_at


class Province:
    """All records of the three systems, advanced to a simulated `now` on demand."""

    def __init__(self, seed: int, origin_at: datetime, volumes: Volumes | None = None) -> None:
        self.seed = seed
        self.origin_at = origin_at.astimezone(UTC)
        self.volumes = volumes or Volumes()
        self.wt = WorkTime(vietnam_holidays(range(origin_at.year - 1, origin_at.year + 3)))
        self.planner = DossierPlanner(self.wt, self.volumes.online_payment_share)
        self.engine = Engine(self._apply)
        self.rng = Random(f"{seed}:province")  # synthetic records and stuck-queue drains
        self.dossiers: list[Dossier] = []
        self.dossier_by_code: dict[str, Dossier] = {}
        self.transactions: list[Transaction] = []
        self.documents: list[Document] = []
        self._dossier_ts = array("d")
        self._transaction_ts = array("d")
        self._document_ts = array("d")
        self.logs = {"portal": ChangeLog(), "payments": ChangeLog(), "documents": ChangeLog()}
        self.open_dossiers = 0
        self.open_documents = 0
        self.synthetic_count = 0
        self.version = 0  # changes whenever any record changes (for caches)
        self.now = self.origin_at
        self._generated_until = self.origin_at.replace(minute=0, second=0, microsecond=0)

    # --- time -------------------------------------------------------------------------------
    def advance(self, now: datetime) -> None:
        """Generate and apply everything up to `now` (a no-op for a time already passed)."""
        if now <= self.now:
            return
        while self._generated_until <= now:
            self._generate_hour(self._generated_until)
            self._generated_until += HOUR
        self.version += self.engine.run_until(now)
        self.now = now

    def _generate_hour(self, hour_start: datetime) -> None:
        hour_index = int(hour_start.timestamp()) // 3600
        share, working = self.wt.hour_share(hour_start)
        local = hour_start.astimezone(VN_TZ)
        label = f"{local:%y%m%d}-{local.hour:02d}"
        vol = self.volumes
        rng = Random(f"{self.seed}:portal:{hour_index}")
        mean = vol.dossiers_per_day * share * (1.0 if working else vol.closed_day_share)
        office = working and 7 <= local.hour < 17
        seqs: dict[str, int] = {}
        for at in _arrivals(rng, hour_start, poisson(rng, mean)):
            proc = _PROCEDURES.pick(rng)
            agency = proc.agency_code or _COMMUNES.pick(rng)
            channel = _CHANNELS[proc.level].pick(rng) if office else ONLINE
            seq = seqs[agency] = seqs.get(agency, 0) + 1
            d = self.planner.new(f"{agency}-{label}{seq:03d}", proc, agency, channel, at)
            self.planner.plan(rng, d)
            if at >= self.origin_at:
                self.engine.schedule(d)
        rng = Random(f"{self.seed}:documents:{hour_index}")
        mean = vol.documents_per_day * share * (1.0 if working else vol.documents_closed_day_share)
        for n, at in enumerate(_arrivals(rng, hour_start, poisson(rng, mean)), 1):
            doc = plan_document(self.wt, rng, f"VB.{label}{n:04d}", at)
            if at >= self.origin_at:
                self.engine.schedule(doc)

    def _apply(self, rec: Record, op: int, at: datetime, arg: Any) -> None:
        rec.apply(op, at, arg)
        system = rec.SYSTEM
        if system == "portal":
            assert isinstance(rec, Dossier)
            if op == ARRIVE:
                self.dossiers.append(rec)
                self.dossier_by_code[rec.code] = rec
                self._dossier_ts.append(at.timestamp())
                self.open_dossiers += 1
            elif op in CLOSING_OPS:
                self.open_dossiers -= 1
            elif op == PAY_REQUEST:
                for tx in transactions_for(self.wt, rec, at, arg):
                    self.engine.schedule(tx)
        elif system == "payments":
            if op == CREATE:
                assert isinstance(rec, Transaction)
                self.transactions.append(rec)
                self._transaction_ts.append(at.timestamp())
        else:
            assert isinstance(rec, Document)
            if op == DOC_ARRIVE:
                self.documents.append(rec)
                self._document_ts.append(at.timestamp())
            if rec.due_at is not None:
                self.open_documents += 1 if op == DOC_ARRIVE else -1
        self.logs[system].touch(rec, at)

    # --- stuck queues -----------------------------------------------------------------------
    def hold(self, hold_id: str, system: str, agency_code: str | None = None) -> None:
        """Stop all progress of `system`'s records (optionally one agency's) from now on."""
        self.engine.holds.append(Hold(hold_id, system, agency_code))

    def release(self, hold_id: str, drain: timedelta) -> int:
        """End a hold; the backlog resumes spread over `drain` of simulated time."""
        freed = self.engine.release(hold_id, self.now, drain, self.rng)
        self.version += 1
        return freed

    # --- windows ----------------------------------------------------------------------------
    def dossiers_between(self, start: datetime, end: datetime) -> list[Dossier]:
        """Real dossiers received in [start, end)."""
        return _window(self.dossiers, self._dossier_ts, start, end)

    def transactions_between(self, start: datetime, end: datetime) -> list[Transaction]:
        """Transactions (real ones) created in [start, end)."""
        return _window(self.transactions, self._transaction_ts, start, end)

    def documents_between(self, start: datetime, end: datetime) -> list[Document]:
        """Documents received in [start, end)."""
        return _window(self.documents, self._document_ts, start, end)

    def national_count(self, start: datetime, end: datetime) -> int:
        """Dossiers received in [start, end) that the national portal holds."""
        return sum(d.synced_national for d in self.dossiers_between(start, end))

    def day_transactions(self, day: date) -> list[Transaction]:
        """Successful and failed transactions of business day `day`, once its files exist."""
        ready_at = file_ready_at(self.wt, day)
        if self.now < ready_at:
            raise NotReady(ready_at)
        start = datetime.combine(day, datetime.min.time(), VN_TZ)
        return self.transactions_between(start, start + timedelta(days=1))

    # --- synthetic records (probes) ---------------------------------------------------------
    def submit_dossier(self, proc: Procedure, channel: int) -> Dossier:
        """A synthetic dossier, received now; it never counts in statistics."""
        agency = proc.agency_code or _COMMUNES.pick(self.rng)
        self.synthetic_count += 1
        code = f"{agency}-{local_date(self.now):%y%m%d}-S{self.synthetic_count:05d}"
        d = self.planner.new(code, proc, agency, channel, self.now, synthetic=True)
        d.status = 2 if channel == IN_PERSON else 1
        self.dossier_by_code[code] = d
        self.logs["portal"].touch(d, self.now)
        self.version += 1
        return d

    def pay_synthetic(self, amount: int, intermediary: str | None,
                      dossier_code: str | None) -> Transaction:
        """A synthetic payment through an intermediary, with a realistic outcome."""
        rng = self.rng
        inter = INTERMEDIARY_BY_CODE.get(intermediary or "") or _INTERMEDIARIES.pick(rng)
        self.synthetic_count += 1
        ok = rng.random() < inter.success_rate
        attempt = make_attempt(rng, 0, inter, ok)
        tx = Transaction(f"GD.S{self.synthetic_count:07d}", dossier_code, None, inter.code,
                         amount, self.now, attempt.error_code, attempt.latency_ms, synthetic=True)
        self.logs["payments"].touch(tx, self.now)
        self.version += 1
        return tx


def _arrivals(rng: Random, hour_start: datetime, n: int) -> list[datetime]:
    offsets = sorted(rng.randrange(3600) for _ in range(n))
    return [hour_start + timedelta(seconds=s) for s in offsets]


def _window(items: list[R], stamps: array, start: datetime, end: datetime) -> list[R]:
    lo = bisect_left(stamps, start.timestamp())
    hi = bisect_left(stamps, end.timestamp())
    return items[lo:hi]
