"""`recon_breaks`: successful payments still unmatched in the reconciliation files after a while.

A break is a successful (non-synthetic) transaction older than `older_than` for which the
intermediary's file or the treasury statement has no row with the same reference and amount.
One alert per intermediary; the value is the number of breaks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.rules.base import Context, Sample
from ioc.config.rules import ReconBreaksRule, RuleBase

_QUERY = """
SELECT p.intermediary, count(*) AS breaks, min(p.created_at) AS oldest_at
  FROM payment_transactions p
 WHERE p.status = 'success' AND NOT p.synthetic AND p.created_at < %(before)s
   AND p.created_at >= %(since)s
   AND (NOT EXISTS (SELECT 1 FROM recon_rows r WHERE r.side = 'intermediary'
                     AND r.ref = p.ref AND r.amount = p.amount)
        OR NOT EXISTS (SELECT 1 FROM recon_rows r WHERE r.side = 'treasury'
                        AND r.ref = p.ref AND r.amount = p.amount))
 GROUP BY p.intermediary
"""


class ReconBreaks:
    """Rule kind `recon_breaks`."""

    # breaks older than this are history for the report, not something to page about
    LOOKBACK_DAYS = 31

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, ReconBreaksRule)
        params = {"before": ctx.now - rule.older_than,
                  "since": ctx.now - timedelta(days=self.LOOKBACK_DAYS)}
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_QUERY, params)
            rows = await cur.fetchall()
        return [Sample({"system": "payments", "intermediary": r["intermediary"]},
                       float(r["breaks"]), r["breaks"] >= rule.min_count) for r in rows]
