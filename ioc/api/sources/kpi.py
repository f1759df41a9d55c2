"""KPI values, read only through the one definition: the `ioc_kpi` SQL function."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ioc.api.sources import installed


class KpiRefused(ValueError):
    """The KPI layer refused the request: an unknown KPI (HTTP 404) or a bad filter (422)."""

    @property
    def unknown(self) -> bool:
        return str(self).startswith("unknown KPI")


async def read(conn: psycopg.AsyncConnection, kpi: str, from_: datetime, to: datetime,
               filter_: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (kpi, labels, value, numerator, denominator) of `ioc_kpi` for the window."""
    async with installed("the KPI layer"), conn.cursor(row_factory=dict_row) as cur:
        try:
            await cur.execute(
                "SELECT kpi, labels, value, numerator, denominator "
                "FROM ioc_kpi(%s, %s, %s, %s::jsonb)",
                (kpi, from_, to, json.dumps(filter_)),
            )
        except (psycopg.errors.RaiseException, psycopg.errors.InvalidParameterValue,
                psycopg.errors.DataException) as exc:
            raise KpiRefused(exc.diag.message_primary or "KPI refused") from None
        return await cur.fetchall()


async def definitions(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    """The KPI catalogue (names in Vietnamese and English, unit, target)."""
    async with installed("the KPI layer"), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM kpi_definitions ORDER BY id")
        return [_plain(r) for r in await cur.fetchall()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly values (numeric columns come back as Decimal)."""
    return {k: float(v) if type(v).__name__ == "Decimal" else v for k, v in row.items()}
