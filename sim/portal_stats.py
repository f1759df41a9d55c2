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

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sim.catalogue import AGENCY_BY_CODE, PROCEDURE_BY_CODE
from sim.dossiers import ONLINE, Dossier
from sim.worktime import CLOSING_HOUR

TIMELINESS = ("early", "on_time", "late", "open_within", "open_overdue", "withdrawn")
# due_at is the close of office hours on the due date; this far back is that date's midnight.
_DUE_DAY_START = timedelta(hours=CLOSING_HOUR)


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


def _counts(real: list[Dossier]) -> dict[str, int]:
    with_result = [d for d in real if d.status in (9, 10)]
    return {
        "online": sum(d.channel == ONLINE for d in real),
        "fee_bearing": sum(d.procedure.fee > 0 for d in real),
        "paid_online": sum(d.paid_online for d in real),
        "with_result": len(with_result),
        "e_result": sum(d.e_result for d in with_result),
        "digitised": sum(d.digitised for d in real),
        "digitised_and_e_result": sum(d.digitised and d.e_result for d in with_result),
        "synced_national": sum(d.synced_national for d in real),
    }


def portal_stats(dossiers: Iterable[Dossier], now: datetime) -> dict[str, Any]:
    """Counts by status, channel, agency, procedure and timeliness of real dossiers."""
    real = [d for d in dossiers if not d.synthetic]
    # One pass classifies; the groupings are then summed from a few hundred distinct keys.
    groups = Counter((d.agency_code, d.procedure.code, timeliness(d, now),
                      d.finished_at is not None) for d in real)
    overall = _row()
    agencies: dict[str, dict[str, int]] = {}
    procedures: dict[str, dict[str, int]] = {}
    for (agency, procedure, kind, finished), n in groups.items():
        for row in (overall, agencies.get(agency) or agencies.setdefault(agency, _row()),
                    procedures.get(procedure) or procedures.setdefault(procedure, _row())):
            row["received"] += n
            row["finished"] += n * finished
            row[kind] += n
    statuses = Counter(d.status for d in real)
    channels = Counter(d.channel for d in real)
    return {
        "received": overall["received"],
        "finished": overall["finished"],
        "by_status": {str(s): statuses[s] for s in range(1, 11)},
        "by_channel": {str(c): channels[c] for c in (1, 2, 3)},
        "by_agency": [
            {"agency_code": code, "name": AGENCY_BY_CODE[code].name, **row}
            for code, row in sorted(agencies.items())
        ],
        "by_procedure": [
            {"procedure_code": code, "name": PROCEDURE_BY_CODE[code].name, **row}
            for code, row in sorted(procedures.items())
        ],
        "timeliness": {k: overall[k] for k in TIMELINESS},
        "counts": _counts(real),
    }
