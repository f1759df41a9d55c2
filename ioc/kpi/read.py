"""Read a KPI from the database: a thin wrapper over `ioc_kpi`, the one definition of each KPI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

_SQL = ("SELECT kpi, labels, value, numerator, denominator "
        "FROM ioc_kpi(%s, %s, %s, %s::jsonb)")


class KpiError(ValueError):
    """The KPI, its filter or its window was refused (the message says what is accepted)."""


@dataclass(frozen=True)
class KpiRow:
    """One row of a KPI: its labels (grouping), value (None = unknown) and the fraction parts."""

    kpi: str
    labels: dict[str, Any]
    value: float | None
    numerator: float | None
    denominator: float | None


def read_kpi(conn: psycopg.Connection, kpi: str, from_: datetime, to: datetime,
             filter: Mapping[str, Any] | None = None) -> list[KpiRow]:
    """The rows of `kpi` over [from_, to) with an optional filter (e.g. {"system": "portal"})."""
    if from_.tzinfo is None or to.tzinfo is None:
        raise KpiError("KPI window bounds must be timezone-aware")
    try:
        with conn.cursor() as cur:
            cur.execute(_SQL, (kpi, from_, to, json.dumps(dict(filter or {}))))
            rows = cur.fetchall()
    except psycopg.errors.InvalidParameterValue as exc:
        raise KpiError(exc.diag.message_primary or str(exc)) from None
    return [KpiRow(*_tuple(r)) for r in rows]


def kpi_value(conn: psycopg.Connection, kpi: str, from_: datetime, to: datetime,
              filter: Mapping[str, Any] | None = None) -> float | None:
    """The value of a KPI that answers one row (an ungrouped KPI, or a filter naming one group)."""
    rows = read_kpi(conn, kpi, from_, to, filter)
    if len(rows) != 1:
        raise KpiError(f"KPI {kpi} with filter {dict(filter or {})} gave {len(rows)} rows, "
                       "expected one")
    return rows[0].value


def _tuple(row: Any) -> tuple[Any, ...]:
    """Accept tuple rows and dict rows (pool connections use dict_row)."""
    if isinstance(row, Mapping):
        return (row["kpi"], row["labels"], row["value"], row["numerator"], row["denominator"])
    return tuple(row)
