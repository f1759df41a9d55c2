"""SQL fragments shared by the dashboards; every figure comes from the KPI layer or the rollups.

Panels use Grafana's macros (`$__timeFrom()`, `$__timeTo()`, `$__timeFilter(c)`,
`$__timeGroupAlias(c, $__interval)`, `$__interval_ms`) so the same SQL serves any time range.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ioc.grafana.inventory import Inventory

FROM = "$__timeFrom()::timestamptz"
TO = "$__timeTo()::timestamptz"
# The chart step: Grafana's interval, never below the 1-minute rollup.
STEP = "(greatest($__interval_ms, 60000) * interval '1 millisecond')"
# The state of a system "now" is judged over the last five minutes of the range.
RECENT = f"{TO} - interval '5 minutes'"


def lit(text: str) -> str:
    """A SQL string literal (for names taken from the config when the JSON is generated)."""
    return "'" + text.replace("'", "''") + "'"


def jsonb(value: Mapping[str, object]) -> str:
    """A jsonb literal."""
    return lit(json.dumps(value, ensure_ascii=False, sort_keys=True)) + "::jsonb"


def text_array(values: Iterable[str]) -> str:
    """A text[] literal."""
    return "ARRAY[" + ", ".join(lit(v) for v in values) + "]::text[]"


def systems_values(inv: Inventory) -> str:
    """`(VALUES (1, 'portal', 'Cổng ...'), ...) AS s(ord, system, title)` from the config."""
    rows = ", ".join(f"({i}, {lit(s.name)}, {lit(s.title)})"
                     for i, s in enumerate(inv.systems, start=1))
    return f"(VALUES {rows}) AS s(ord, system, title)"


def kpi(name: str, start: str, end: str, filter_: Mapping[str, object] | None = None,
        column: str = "value") -> str:
    """One number from the KPI layer: `ioc_kpi` for a selection that yields a single row."""
    return (f"(SELECT k.{column} FROM ioc_kpi({lit(name)}, {start}, {end}, "
            f"{jsonb(filter_ or {})}) k)")


def kpi_series(name: str, filter_: Mapping[str, object], metric: str, joins: str = "",
               where: str = "true", order: str = "metric") -> str:
    """A chart of a KPI: `ioc_kpi` over each step of the range, one series per `metric`.

    `metric` is an expression over `k` (the KPI row) and whatever `joins` brings in.
    """
    return f"""
SELECT b AS "time", {metric} AS metric, k.value AS "value"
  FROM generate_series(time_bucket({STEP}, {FROM}), {TO} - interval '1 millisecond', {STEP}) AS b
 CROSS JOIN LATERAL ioc_kpi({lit(name)}, b, b + {STEP}, {jsonb(filter_)}) AS k
 {joins}
 WHERE {where}
 ORDER BY 1, {order}"""


def objective(system: str, which: str) -> str:
    """A configured objective of a system (`availability`, `latency_ms`) from the KPI layer."""
    return (f"(SELECT k.value FROM ioc_kpi('slo.objective', {FROM}, {TO}, "
            f"{jsonb({'system': system})}) k WHERE k.labels->>'objective' = {lit(which)})")


def traffic_light(system: str) -> str:
    """1 up, 2 degraded (below objective or slower than it), 0 down (under 90% of probes
    succeed), NULL when there is no data in the last five minutes."""
    f = {"system": system}
    return f"""
WITH w AS (
  SELECT {kpi('availability', RECENT, TO, f)} AS ok_rate,
         {kpi('latency.p95', RECENT, TO, f)} AS p95_ms,
         {objective(system, 'availability')} AS ok_objective,
         {objective(system, 'latency_ms')} AS ms_objective)
SELECT CASE WHEN ok_rate IS NULL THEN NULL
            WHEN ok_rate < 0.9 THEN 0
            WHEN ok_rate < ok_objective OR p95_ms > ms_objective THEN 2
            ELSE 1 END AS "value"
  FROM w"""


def kpi_rows(name: str, start: str, end: str, filter_: Mapping[str, object], label: str,
             column: str = "value", where: str = "true", title: str = "Tên") -> str:
    """A table of one KPI's groups: a name column from label `label`, a value column."""
    return f"""
SELECT {display_name(label, f"k.labels->>{lit(label)}")} AS {quote_ident(title)},
       k.{column} AS "value"
  FROM ioc_kpi({lit(name)}, {start}, {end}, {jsonb(filter_)}) AS k
 WHERE {where}
 ORDER BY 2 DESC NULLS LAST, 1"""


def display_name(label: str, code: str) -> str:
    """What a wall screen shows for a label's value: agencies and procedures by their catalogue
    name (the code itself until the catalogue is synced), anything else as it is."""
    named = {"agency": "ioc_agency_name", "procedure": "ioc_procedure_name"}
    shown = f"{named[label]}({code})" if label in named else code
    return f"coalesce({shown}, '?')"


def quote_ident(name: str) -> str:
    """A SQL identifier in double quotes (column titles in Vietnamese)."""
    return '"' + name.replace('"', '""') + '"'


# The start of the province's day containing the end of the range (a range ending at local
# midnight counts the day that just ended, so the window is never empty).
TODAY = f"(ioc_local_day({TO} - interval '1 millisecond')::timestamp AT TIME ZONE ioc_tz())"
