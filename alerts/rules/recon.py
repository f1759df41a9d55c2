"""`recon_breaks`: reconciliation breaks (unmatched payments) open for longer than `older_than`.

Breaks are the KPI layer's (`recon.open_breaks`, from `ioc_recon_status`: missing on the
intermediary's file or the treasury statement, duplicated, amount or code mismatch, dossier not
updated), so the alert counts exactly what the wall and the report count. A transaction is old
enough when it was created before `now - older_than`, judged as of that instant (a transaction
still awaiting its files then is pending, not a break; docs/KPI.md). One alert per
intermediary; the value is the number of its breaks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection

from alerts.rules.base import Context, Sample
from alerts.rules.kpi import read_kpi
from ioc.config.rules import ReconBreaksRule, RuleBase

LOOKBACK = timedelta(days=31)
"""Breaks older than this are history for the report, not something to page about."""


class ReconBreaks:
    """Rule kind `recon_breaks`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, ReconBreaksRule)
        until = ctx.now - rule.older_than
        rows = await read_kpi(conn, "recon.open_breaks", until - LOOKBACK, until,
                              {"by": "intermediary"})
        counts: dict[str, float] = {}
        for row in rows:
            name = row["labels"].get("intermediary", "")
            counts[name] = counts.get(name, 0.0) + float(row["value"] or 0)
        return [Sample({"system": "payments", "intermediary": name}, n, n >= rule.min_count)
                for name, n in sorted(counts.items())]
