"""The drill's KPI figures through every reader: SQL `ioc_kpi`, the API, the weekly report and
the Grafana dashboard panel (its SQL as Grafana sends it, run as the read-only Grafana role).

All readers use the same window (the report's week), so they must agree to the last digit.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ioc import db
from ioc.api import tokens
from ioc.api.app import create_app
from ioc.config import ProvinceConfig
from ioc.config.types import SystemName
from ioc.drill.verdict import Verdict
from ioc.grafana.generate import dashboards_json
from ioc.grafana.inventory import inventory_from_config
from ioc.grafana.role import ROLE, ROLE_SETTINGS
from ioc.report.week import Week
from ioc.settings import Settings

SYSTEMS: tuple[SystemName, ...] = ("portal", "payments", "documents")
Case = tuple[str, dict[str, str]]  # (kpi, filter)
CASES: tuple[Case, ...] = (*(("availability", {"system": str(s)}) for s in SYSTEMS),
                           ("766.2.1", {}))
# (dashboard file, panel title, how to pick the case's value from the rows)
PANELS: dict[str, tuple[str, str]] = {"availability": ("ioc-sla.json", "Độ sẵn sàng"),
                                      "766.2.1": ("ioc-portal.json",
                                                  "Tỷ lệ đúng hạn (766 - 2.1)")}
_TIME_MACRO = re.compile(r"\$__time(From|To)\(\)")


def label(case: Case) -> str:
    """`availability portal`, `766.2.1`: how a case is named in the verdict table."""
    kpi, filter_ = case
    return " ".join([kpi, *filter_.values()])


def rfc3339(at: datetime) -> str:
    """The time as Grafana's server writes it into `$__timeFrom()`: Go's RFC3339Nano in UTC
    (the fraction keeps only its significant digits)."""
    whole, fraction = at.astimezone(UTC).replace(tzinfo=None).isoformat(
        timespec="microseconds").split(".")
    return whole + ("." + fraction.rstrip("0") if fraction.strip("0") else "") + "Z"


def expand_time_macros(raw: str, from_: datetime, to: datetime) -> str:
    """`$__timeFrom()`/`$__timeTo()` as Grafana's PostgreSQL data source expands them; any
    other `$` macro or variable is refused (the panels the drill reads use only these)."""
    bounds = {"From": rfc3339(from_), "To": rfc3339(to)}
    out = _TIME_MACRO.sub(lambda m: f"'{bounds[m.group(1)]}'", raw)
    if "$" in out.replace("$$", ""):
        raise ValueError(f"the panel query uses a macro the drill does not expand: {raw!r}")
    return out


def panel_sql(config: ProvinceConfig, kpi: str) -> str:
    """The raw SQL of the dashboard panel showing `kpi`, from the dashboards generated for the
    drill's config (the same generator as the committed grafana/dashboards)."""
    file, title = PANELS[kpi]
    model = dashboards_json(inventory_from_config(config))[file]
    for panel in model["panels"]:
        if panel.get("title") == title:
            return str(panel["targets"][0]["rawSql"])
    raise KeyError(f"{file} has no panel {title!r}")


def _as_grafana(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(ROLE)))
        for name, value in ROLE_SETTINGS:
            conn.execute(sql.SQL("SELECT set_config({}, {}, true)").format(
                sql.Literal(name), sql.Literal(value)))
        return conn.execute(query.encode()).fetchall()


def grafana_values(conn: psycopg.Connection, config: ProvinceConfig,
                   week: Week) -> dict[str, float | None]:
    """What the SLA table's availability panel and the portal's 766.2.1 tile show."""
    titles = {config.systems.get(s).name_vi: s for s in SYSTEMS}
    out: dict[str, float | None] = {}
    rows = _as_grafana(conn, expand_time_macros(panel_sql(config, "availability"),
                                                week.start, week.end))
    for title, value in rows:
        out[f"availability {titles[title]}"] = value
    [(value,)] = _as_grafana(conn, expand_time_macros(panel_sql(config, "766.2.1"),
                                                      week.start, week.end))
    out["766.2.1"] = value
    return out


def sql_values(conn: psycopg.Connection, week: Week) -> dict[str, float | None]:
    """`ioc_kpi` itself, the definition every reader must match."""
    out = {}
    for kpi, filter_ in CASES:
        row = conn.execute("SELECT value FROM ioc_kpi(%s, %s, %s, %s::jsonb)",
                           (kpi, week.start, week.end, json.dumps(filter_))).fetchone()
        out[label((kpi, filter_))] = None if row is None else row[0]
    return out


def report_values(report: dict[str, Any]) -> dict[str, float | None]:
    """The figures printed in the weekly report."""
    out: dict[str, float | None] = {f"availability {s['system']}": s["availability"]
                                    for s in report["systems"]}
    out["766.2.1"] = next(i["value"] for i in report["indicators"] if i["id"] == "2.1")
    return out


def api_values(url: str, week: Week) -> dict[str, float | None]:
    """GET /api/v1/kpis/{kpi} of the API app (in-process, a viewer token of its own)."""
    return asyncio.run(_api_values(url, week))


async def _api_values(url: str, week: Week) -> dict[str, float | None]:
    now = datetime.now(UTC)
    async with await db.connect_async(url, app="ioc-drill") as conn:
        token, secret = await tokens.create(conn, f"drill-{now:%Y%m%d%H%M%S%f}", "viewer", now)
    pool = db.make_pool(url, min_size=1, max_size=2)
    await pool.open()
    out: dict[str, float | None] = {}
    try:
        app = create_app(Settings(database_url=url), pool)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://api") as client:
            for kpi, filter_ in CASES:
                resp = await client.get(
                    f"/api/v1/kpis/{kpi}", headers={"Authorization": f"Bearer {secret}"},
                    params={"from": week.start.isoformat(), "to": week.end.isoformat(),
                            "filter": json.dumps(filter_)})
                resp.raise_for_status()
                values = resp.json()["values"]
                value = values[0]["value"] if len(values) == 1 else None
                out[label((kpi, filter_))] = None if value is None else float(value)
    finally:
        await pool.close()
        async with await db.connect_async(url, app="ioc-drill") as conn:
            await tokens.revoke(conn, token.id, datetime.now(UTC))
    return out


def kpi_verdicts(readers: dict[str, Callable[[], dict[str, float | None]]]) -> list[Verdict]:
    """One row per case: every reader's value equals `ioc_kpi`'s (and there is a value)."""
    seen = {name: read() for name, read in readers.items()}
    out = []
    for case in CASES:
        name = label(case)
        expected = seen["sql"].get(name)
        shown = {reader: values.get(name) for reader, values in seen.items()}
        agree = expected is not None and all(v == expected for v in shown.values())
        others = [r for r in shown if r != "sql"]
        observed = ("=".join(others) + f"={expected}" if agree
                    else ", ".join(f"{r}={shown[r]}" for r in others))
        out.append(Verdict(f"KPI {name}: readers agree", f"{expected} (ioc_kpi)", observed,
                           agree))
    return out
