"""Dossiers of the one-stop system: the record, its planned life, and its wire form.

Status codes and channels follow DOMAIN.md. A dossier's life is planned at arrival: intake
(accepted or rejected), processing, an optional payment request, supplement requests (whose
time extends the promised date), and an end (done then returned, withdrawn or stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, ClassVar

from sim.calendar import local_date
from sim.catalogue import ERROR_CODES, INTERMEDIARIES, Intermediary, Procedure
from sim.engine import Record, Step
from sim.wire import iso
from sim.worktime import Weighted, WorkTime

IN_PERSON, ONLINE, POST = 1, 2, 3
FINISHED_STATUSES = frozenset({3, 7, 8, 9, 10})

# Operations of a dossier's plan.
ARRIVE, ACCEPT, REJECT, PROCESS, SUPPLEMENT, RESUME = 1, 2, 3, 4, 5, 6
PAY_REQUEST, PAID, WITHDRAW, STOP, DONE, RETURN, SYNC = 7, 8, 9, 10, 11, 12, 13
CLOSING_OPS = frozenset({REJECT, WITHDRAW, STOP, DONE})

# Behaviour of citizens and agencies (shares of dossiers) [inferred from provincial reports].
REJECT_RATE = 0.03
WITHDRAW_RATE = 0.01
STOP_RATE = 0.005
LATE_RATE = 0.04
ON_TIME_RATE = 0.30  # finished on the due date; the rest finish earlier
RETURN_RATE = 0.92
E_RESULT_RATE = 0.82
SYNC_RATE = 0.97
DIGITISED_RATE = {IN_PERSON: 0.80, ONLINE: 0.93, POST: 0.60}
ABANDONED_PAYMENT_RATE = 0.04  # pays at the counter after a failed online attempt
MAX_ATTEMPTS = 4
TIMEOUT_MS = 30_000  # how long an intermediary is waited for before "timeout"

INTERMEDIARY_CHOICE = Weighted(INTERMEDIARIES, [i.weight for i in INTERMEDIARIES])
_ERROR = Weighted([e[0] for e in ERROR_CODES], [e[2] for e in ERROR_CODES])


@dataclass(frozen=True, slots=True)
class Attempt:
    """One planned online payment attempt, `offset_s` after the payment request."""

    offset_s: int
    intermediary: str
    error_code: str | None
    latency_ms: int


class Dossier(Record):
    """A dossier (hồ sơ) as the one-stop system holds it."""

    __slots__ = (
        "agency_code", "channel", "code", "digitised", "due_at", "due_effective_at", "e_result",
        "finished_at",
        "paid_online", "payment_ref", "procedure", "received_at", "returned_at", "status",
        "supplements", "synced_national", "synthetic",
    )
    SYSTEM: ClassVar[str] = "portal"

    def __init__(self, code: str, procedure: Procedure, agency_code: str, channel: int,
                 received_at: datetime, due_at: datetime, synthetic: bool = False) -> None:
        self.code = code
        self.procedure = procedure
        self.agency_code = agency_code
        self.channel = channel
        self.received_at = received_at
        self.due_at = due_at  # the promised return date given at receipt
        # due_at moved on by the working days the citizen spent supplementing (see RESUME)
        self.due_effective_at = due_at
        self.synthetic = synthetic
        self.status = 0
        self.finished_at: datetime | None = None
        self.returned_at: datetime | None = None
        self.supplements: list[list[datetime | None]] | None = None
        self.paid_online = False
        self.payment_ref: str | None = None
        self.digitised = False
        self.e_result = False
        self.synced_national = False
        self.plan: list[Step] = []
        self.step = 0

    @property
    def payment_request_code(self) -> str:
        return f"YC.{self.code}"

    def apply(self, op: int, at: datetime, arg: Any) -> None:
        """Move the dossier through one planned step."""
        if op == ARRIVE:
            self.status, self.digitised = arg
        elif op == ACCEPT:
            self.status, self.digitised = 2, arg
        elif op in (PROCESS, PAID, RESUME):
            self.status = 4
            if op == PAID:
                self.paid_online, self.payment_ref = arg is not None, arg
            elif op == RESUME:
                self.supplements[-1][1] = at  # type: ignore[index]
                self.due_effective_at = arg
        elif op == SUPPLEMENT:
            self.status = 5
            self.supplements = [*(self.supplements or []), [at, None]]
        elif op == PAY_REQUEST:
            self.status = 6
        elif op == SYNC:
            self.synced_national = True
        elif op == RETURN:
            self.status, self.returned_at = 10, at
        else:
            self.status = {REJECT: 3, WITHDRAW: 7, STOP: 8, DONE: 9}[op]
            self.finished_at = at
            if op == DONE:
                self.e_result = arg

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "procedure_code": self.procedure.code,
            "agency_code": self.agency_code,
            "channel": self.channel,
            "level": self.procedure.level,
            "status": self.status,
            "received_at": iso(self.received_at),
            "due_at": iso(self.due_at),
            "finished_at": iso(self.finished_at),
            "returned_at": iso(self.returned_at),
            "supplements": [
                {"requested_at": iso(s[0]), "resumed_at": iso(s[1])}
                for s in self.supplements or ()
            ],
            "fee": self.procedure.fee,
            "paid_online": self.paid_online,
            "payment_request_code": self.payment_request_code if self.procedure.fee else None,
            "payment_ref": self.payment_ref,
            "digitised": self.digitised,
            "e_result": self.e_result,
            "synced_national": self.synced_national,
            "synthetic": self.synthetic,
            "updated_at": iso(self.updated_at),
        }


def _after(at: datetime, rng: Random, low_s: float, high_s: float) -> datetime:
    return at + timedelta(seconds=int(rng.uniform(low_s, high_s)))


class DossierPlanner:
    """Plans dossiers' lives; `online_payment_share`: share of fee-bearing ones paid online."""

    def __init__(self, wt: WorkTime, online_payment_share: float) -> None:
        self.wt = wt
        self.online_payment_share = online_payment_share

    def new(self, code: str, proc: Procedure, agency_code: str, channel: int,
            received_at: datetime, synthetic: bool = False) -> Dossier:
        """A dossier with its initial promised date, not yet planned."""
        due_day = self.wt.add_days(local_date(received_at), proc.deadline_days)
        return Dossier(code, proc, agency_code, channel, received_at, self.wt.due_at(due_day),
                       synthetic)

    def plan(self, rng: Random, d: Dossier) -> Dossier:
        """Fill in the dossier's whole planned life."""
        wt, t = self.wt, d.received_at
        due_day = local_date(d.due_at)
        digitised = rng.random() < DIGITISED_RATE[d.channel]
        steps: list[Step] = []
        if d.channel == IN_PERSON:
            steps.append((t, ARRIVE, (2, digitised)))
        else:
            steps.append((t, ARRIVE, (1, False)))
            t = wt.office_after(_after(t, rng, 600, 4 * 3600), rng)
            steps.append((t, REJECT if rng.random() < REJECT_RATE else ACCEPT, digitised))
        if steps[-1][1] != REJECT:
            t = _after(t, rng, 300, 5400)
            steps.append((t, PROCESS, None))
            if d.procedure.fee:
                t = self._payment(steps, rng, t, d)
            self._finish(steps, rng, t, due_day)
        if rng.random() < SYNC_RATE:
            steps.append((_after(d.received_at, rng, 300, 3 * 3600), SYNC, None))
        steps.sort(key=lambda s: s[0])
        d.plan = steps
        return d

    def _payment(self, steps: list[Step], rng: Random, t: datetime, d: Dossier) -> datetime:
        requested_at = _after(t, rng, 60, 1800)
        attempts: list[Attempt] = []
        if rng.random() < self.online_payment_share:
            offset = rng.uniform(60, 3 * 3600)
            inter = INTERMEDIARY_CHOICE.pick(rng)
            for n in range(MAX_ATTEMPTS):
                ok = n == MAX_ATTEMPTS - 1 or rng.random() < inter.success_rate
                attempts.append(make_attempt(rng, offset, inter, ok))
                if ok:
                    break
                offset += rng.uniform(60, 900)
                if rng.random() < 0.5:
                    inter = INTERMEDIARY_CHOICE.pick(rng)
            last = attempts[-1]
            paid_at = requested_at + timedelta(seconds=last.offset_s + last.latency_ms // 1000 + 1)
            ref: str | None = f"GD.{d.code}.{len(attempts)}"
        else:
            if rng.random() < ABANDONED_PAYMENT_RATE:
                inter = INTERMEDIARY_CHOICE.pick(rng)
                attempts.append(make_attempt(rng, rng.uniform(120, 3600), inter, False))
            paid_at = self.wt.office_after(_after(requested_at, rng, 600, 8 * 3600), rng)
            ref = None
        steps.append((requested_at, PAY_REQUEST, tuple(attempts)))
        steps.append((paid_at, PAID, ref))
        return paid_at

    def _finish(self, steps: list[Step], rng: Random, t: datetime, due_day: date) -> None:
        wt = self.wt
        r = rng.random()
        supplements = 2 if r < 0.015 else 1 if r < 0.10 else 0
        for _ in range(supplements):
            requested_at = wt.office_after(_after(t, rng, 3600, 2 * 86400), rng)
            steps.append((requested_at, SUPPLEMENT, None))
            if rng.random() < 0.08:  # the citizen never supplements and gives up
                steps.append((_after(requested_at, rng, 5 * 86400, 30 * 86400), WITHDRAW, None))
                return
            t = requested_at + timedelta(seconds=max(600, int(rng.expovariate(1 / 216_000))))
            # Time with the citizen does not count: the promised date moves by those days.
            due_day = wt.add_days(due_day, wt.between(local_date(requested_at), local_date(t)))
            steps.append((t, RESUME, wt.due_at(due_day)))
        r = rng.random()
        if r < WITHDRAW_RATE + STOP_RATE:
            op = WITHDRAW if r < WITHDRAW_RATE else STOP
            steps.append((wt.office_after(_after(t, rng, 3600, 3 * 86400), rng), op, None))
            return
        done_at = self._done_at(rng, t, due_day)
        steps.append((done_at, DONE, rng.random() < E_RESULT_RATE))
        if rng.random() < RETURN_RATE:
            returned_at = wt.office_after(_after(done_at, rng, 600, 2 * 86400), rng)
            steps.append((returned_at, RETURN, None))

    def _done_at(self, rng: Random, t: datetime, due_day: date) -> datetime:
        wt = self.wt
        r = rng.random()
        if r < LATE_RATE:
            day = wt.add_days(due_day, rng.randint(1, 5))
        elif r < LATE_RATE + ON_TIME_RATE:
            day = due_day
        else:
            start = local_date(t)
            span = wt.between(start, due_day)
            day = min(wt.add_days(start, rng.randint(0, max(span - 1, 0))), due_day)
        done_at = wt.office_time(day, rng)
        return done_at if done_at > t else _after(t, rng, 600, 7200)


def make_attempt(rng: Random, offset: float, inter: Intermediary, ok: bool) -> Attempt:
    latency = rng.lognormvariate(0.0, inter.latency_sigma) * inter.latency_median_ms
    error = None if ok else _ERROR.pick(rng)
    if error == "timeout":
        latency = TIMEOUT_MS
    return Attempt(int(offset), inter.code, error, int(latency))
