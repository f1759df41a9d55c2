"""Statistics of the one-stop system, computed from the dossier records.

Timeliness (DOMAIN.md, indicator 2.1) of each dossier, judged at `now`, against its effective
due time: `due_at` moved on by the working days between each supplement request's local date and
its resumption's local date (time with the citizen does not count):
- finished (done, returned, rejected, stopped; end time `finished_at`): `early` before the due
  date, `on_time` on the due date by the effective due time, `late` after it;
- open: `open_within` up to the effective due time (or while the citizen is supplementing), else
  `open_overdue`;
- more than one supplement request counts as late (`late` or `open_overdue`);
- withdrawn dossiers (status 7) are not judged: they count as `withdrawn`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sim.catalogue import AGENCY_BY_CODE, PROCEDURE_BY_CODE
from sim.dossiers import ONLINE, Dossier
from sim.worktime import CLOSING_HOUR

TIMELINESS = ("early", "on_time", "late", "open_within", "open_overdue", "withdrawn")
# due_at is the close of office hours on the due date; this far back is that date's midnight.
_DUE_DAY_START = timedelta(hours=CLOSING_HOUR)
COUNTS = ("online", "fee_bearing", "paid_online", "with_result", "e_result", "digitised",
          "digitised_and_e_result", "synced_national")


def timeliness(d: Dossier, now: datetime) -> str:
    """Which of TIMELINESS the dossier falls in at `now`."""
    if d.status == 7:
        return "withdrawn"
    repeated = d.supplements is not None and len(d.supplements) > 1
    due = d.due_effective_at
    if d.finished_at is not None:
        if repeated or d.finished_at > due:
            return "late"
        return "early" if d.finished_at < due - _DUE_DAY_START else "on_time"
    if repeated:
        return "open_overdue"
    if d.status == 5 or now <= due:
        return "open_within"
    return "open_overdue"


def _row() -> dict[str, int]:
    return dict.fromkeys(("received", "finished", *TIMELINESS), 0)


def _counts(d: Dossier) -> tuple[bool, ...]:
    with_result = d.status in (9, 10)
    return (
        d.channel == ONLINE,
        d.procedure.fee > 0,
        d.paid_online,
        with_result,
        with_result and d.e_result,
        d.digitised,
        d.digitised and with_result and d.e_result,
        d.synced_national,
    )


def portal_stats(dossiers: Iterable[Dossier], now: datetime) -> dict[str, Any]:
    """Counts by status, channel, agency, procedure and timeliness of real dossiers."""
    by_status = {str(s): 0 for s in range(1, 11)}
    by_channel = {"1": 0, "2": 0, "3": 0}
    overall = _row()
    agencies: dict[str, dict[str, int]] = {}
    procedures: dict[str, dict[str, int]] = {}
    counts = [0] * len(COUNTS)
    for d in dossiers:
        if d.synthetic:
            continue
        by_status[str(d.status)] += 1
        by_channel[str(d.channel)] += 1
        kind = timeliness(d, now)
        finished = d.finished_at is not None
        for row in (
            overall,
            agencies.get(d.agency_code) or agencies.setdefault(d.agency_code, _row()),
            procedures.get(d.procedure.code) or procedures.setdefault(d.procedure.code, _row()),
        ):
            row["received"] += 1
            row["finished"] += finished
            row[kind] += 1
        for i, flag in enumerate(_counts(d)):
            counts[i] += flag
    return {
        "received": overall["received"],
        "finished": overall["finished"],
        "by_status": by_status,
        "by_channel": by_channel,
        "by_agency": [
            {"agency_code": code, "name": AGENCY_BY_CODE[code].name, **row}
            for code, row in sorted(agencies.items())
        ],
        "by_procedure": [
            {"procedure_code": code, "name": PROCEDURE_BY_CODE[code].name, **row}
            for code, row in sorted(procedures.items())
        ],
        "timeliness": {k: overall[k] for k in TIMELINESS},
        "counts": dict(zip(COUNTS, counts, strict=True)),
    }
