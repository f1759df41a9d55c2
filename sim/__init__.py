"""The simulated province: portal, payment gateway and document system as real HTTP services.

It is how the demo runs on a laptop, how tests get real servers to watch, and how benchmarks get
load. Its HTTP contract (and every fault kind) is docs/SIM_API.md.

Start it in a test (port 0 everywhere by default; the CLI uses 18080-18083)::

    from sim import SimOptions, Volumes, run_province

    async with run_province(SimOptions(seed=1, speed=60.0, backfill_days=2)) as province:
        province.urls["portal"]        # base URLs: 'portal', 'payments', 'documents'
        province.control_url           # faults and clock (POST /faults, POST /clock ...)
        province.sync()                # bring the model to the simulated now, then read it:
        province.model.dossiers        # real dossiers received so far (oldest first)
        province.model.dossiers_between(start_at, end_at)
        province.model.transactions, province.model.documents
        province.clock.now()           # simulated time (UTC-aware); speed 0 freezes it
        await province.add_fault({"kind": "latency", "system": "portal", "duration": "2s",
                                  "ms": 300})   # same as POST /faults

Options (`SimOptions`): `seed` (same seed and start, same province), `speed` (simulated seconds
per real second; 0 freezes the clock, which then moves only by POST /clock {"advance": "1h"}),
`backfill_days` (history generated before the servers start: about a second per 5,000-dossier
working day), `start_at` (simulated start, default the real now), `host`, `ports` (dict with keys
control/portal/payments/documents; missing keys get a free port), `volumes` (`Volumes`:
dossiers_per_day, documents_per_day, online_payment_share, closed_day_share ...).
`run_province(..., wall=...)` takes the real-time source (monotonic seconds) used by the clock
and by fault durations.

Faults last a real (wall-clock) duration and end by themselves; list and clear them with
GET/DELETE /faults or `ioc sim fault list|clear`. From the command line::

    ioc sim --seed 1 --backfill-days 7 --speed 60
    ioc sim fault add latency --system portal --endpoint /api/stats --duration 5m -p ms=2000
    ioc sim fault add outage --system payments --duration 1m
    ioc sim fault list
    ioc sim fault clear
    ioc sim clock --advance 1d

Working-day arithmetic (weekends, Tết, Hùng Kings and the other public holidays, with the
government's day swaps) is `sim.calendar.add_working_days(start, n, holidays)`.
"""

from sim.calendar import Holidays, add_working_days, vietnam_holidays, working_days_between
from sim.clock import SimClock
from sim.province import Province, Volumes
from sim.runner import RunningProvince, SimOptions, ports_from_base, run_province

__all__ = [
    "Holidays",
    "Province",
    "RunningProvince",
    "SimClock",
    "SimOptions",
    "Volumes",
    "add_working_days",
    "ports_from_base",
    "run_province",
    "vietnam_holidays",
    "working_days_between",
]
