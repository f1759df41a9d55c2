"""`sql`: the escape hatch, a read-only query returning a `value` column and label columns.

It runs in a read-only transaction with a statement timeout, so a bad query can neither write
nor stall the evaluation loop. The query sees the database clock (`now()`).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from alerts.rules.base import Context, RuleError, Sample, compare
from ioc.config.rules import RuleBase, SqlRule

STATEMENT_TIMEOUT_MS = 5000


class SqlQuery:
    """Rule kind `sql`."""

    async def evaluate(self, conn: AsyncConnection[Any], rule: RuleBase,
                       ctx: Context) -> list[Sample]:
        assert isinstance(rule, SqlRule)
        try:
            async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                await cur.execute("SET TRANSACTION READ ONLY")
                await cur.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
                await cur.execute(rule.query.encode())
                rows = await cur.fetchall()
        except psycopg.Error as exc:
            raise RuleError(f"query failed: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        if rows and "value" not in rows[0]:
            raise RuleError("query returned no `value` column; write SELECT ... AS value")
        samples = []
        for row in rows:
            raw = row.pop("value")
            value = None if raw is None else float(raw)
            labels = {k: str(v) for k, v in row.items() if v is not None}
            samples.append(Sample(labels, value, compare(value, rule.op, rule.value)))
        return samples
