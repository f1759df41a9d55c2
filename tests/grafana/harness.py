"""Run dashboard queries the way Grafana would: expanded, read-only, bounded, as ioc_grafana."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import yaml

from ioc.grafana.generate import DASHBOARD_DIR
from ioc.grafana.model import DATASOURCE_UID
from ioc.grafana.role import ROLE_SETTINGS
from ioc.settings import PROJECT_ROOT

from .macros import QueryContext, Variable, calculate_interval, expand, parse_interval

SCREEN_WIDTH = 1920
PROVISIONED_DATASOURCE = PROJECT_ROOT / "grafana/provisioning/datasources/timescaledb.yaml"


def datasource_time_interval() -> str:
    """jsonData.timeInterval of the provisioned data source: the floor of `$__interval`."""
    (ds,) = yaml.safe_load(PROVISIONED_DATASOURCE.read_text())["datasources"]
    return str(ds["jsonData"]["timeInterval"])


@dataclass(frozen=True)
class PanelQuery:
    """One SQL query of a dashboard: a panel target or an annotation."""

    dashboard: str
    where: str  # "panel 3 'title' A" or "annotation 'name'"
    panel_type: str
    format: str
    raw_sql: str
    datasource_uid: str
    max_data_points: int = 1000
    min_interval: str = ""

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.where}"


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def load_dashboards(directory: Path = DASHBOARD_DIR) -> dict[str, dict[str, Any]]:
    """The committed dashboard files by uid."""
    out = {}
    for path in sorted(directory.glob("*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))
        out[model["uid"]] = model
    return out


def queries(model: dict[str, Any]) -> list[PanelQuery]:
    """Every panel target and SQL annotation of a dashboard."""
    found = []
    for panel in model["panels"]:
        for target in panel.get("targets", []):
            where = f"panel {panel['id']} {panel['title']!r} {target['refId']}"
            found.append(PanelQuery(
                model["uid"], where, panel["type"], target["format"], target["rawSql"],
                target["datasource"]["uid"],
                # without maxDataPoints Grafana uses the panel's width in pixels
                panel.get("maxDataPoints") or round(panel["gridPos"]["w"] / 24 * SCREEN_WIDTH),
                panel.get("interval", "")))
    for ann in model["annotations"]["list"]:
        if "target" in ann:
            found.append(PanelQuery(model["uid"], f"annotation {ann['name']!r}", "annotation",
                                    "table", ann["target"]["rawSql"], ann["datasource"]["uid"]))
    return found


def variables(model: dict[str, Any]) -> dict[str, Variable]:
    """Each template variable with "All" (or every option) selected."""
    out = {}
    for var in model["templating"]["list"]:
        values = tuple(o["value"] for o in var["options"] if o["value"] != "$__all")
        out[var["name"]] = Variable(values, multi=var["multi"], include_all=var["includeAll"])
    return out


def context(model: dict[str, Any], q: PanelQuery, now: datetime,
            span: timedelta) -> QueryContext:
    """What Grafana would send for this query over [now - span, now] on a 1920 px screen."""
    low = parse_interval(q.min_interval or datasource_time_interval())
    interval = calculate_interval(span, q.max_data_points, low)
    return QueryContext(now - span, now, interval, variables(model))


def default_span(model: dict[str, Any]) -> timedelta:
    """The span of the dashboard's default range (`now-6h` -> 6 hours)."""
    return parse_interval(model["time"]["from"].removeprefix("now-"))


def run(conn: psycopg.Connection, sql: str, timeout: str = "10s") -> Result:
    """Run SQL as ioc_grafana in a read-only transaction with a statement timeout; roll back."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SET LOCAL ROLE ioc_grafana")
        # SET ROLE does not apply the role's own settings: apply them as its login would
        for name, value in ROLE_SETTINGS:
            conn.execute(f"SET LOCAL {name} = '{value}'")
        conn.execute(f"SET LOCAL statement_timeout = '{timeout}'")
        cur = conn.execute(sql.encode())
        columns = [d.name for d in cur.description or []]
        return Result(columns, cur.fetchall())


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def shape_problems(q: PanelQuery, result: Result) -> list[str]:
    """What Grafana would choke on, or show as "no data", in this result."""
    problems = []
    if not result.rows:
        return ["no rows"]
    cols = result.columns
    if q.format == "time_series" or q.panel_type == "annotation":
        if "time" not in cols:
            return [f"no 'time' column in {cols}"]
        times = [r[cols.index("time")] for r in result.rows]
        if any(t is None for t in times):
            problems.append("NULL time")
        elif times != sorted(times):
            problems.append("time not ascending")
    if q.panel_type == "annotation":
        if "text" not in cols:
            problems.append(f"annotation without 'text' column: {cols}")
        return problems
    values = [i for i, c in enumerate(cols) if c not in ("time", "metric")
              and any(_numeric(r[i]) for r in result.rows)]
    if q.format == "time_series":
        bad = [c for i, c in enumerate(cols) if c not in ("time", "metric")
               and any(r[i] is not None and not _numeric(r[i]) for r in result.rows)]
        if bad:
            problems.append(f"non-numeric value columns {bad}")
    if q.panel_type != "table" and not values:
        problems.append(f"no numeric value in any column of {cols}")
    return problems


def check(conn: psycopg.Connection, q: PanelQuery, ctx: QueryContext) -> tuple[str, list[str]]:
    """Expand and run one query; return the SQL and the problems found (empty when fine)."""
    sql = expand(q.raw_sql, ctx)
    problems = [] if q.datasource_uid == DATASOURCE_UID else ["wrong data source"]
    try:
        result = run(conn, sql)
    except psycopg.Error as exc:
        return sql, [*problems, f"{type(exc).__name__}: {exc}"]
    return sql, problems + shape_problems(q, result)


def panel_query(model: dict[str, Any], title: str) -> PanelQuery:
    """The (first) query of the panel titled `title`."""
    found = [q for q in queries(model) if q.where.split(" ", 2)[2].startswith(repr(title))]
    if not found:
        raise KeyError(f"{model['uid']} has no panel {title!r}")
    return found[0]


def panel_result(conn: psycopg.Connection, model: dict[str, Any], title: str, now: datetime,
                 span: timedelta) -> Result:
    """What the panel titled `title` shows over [now - span, now]."""
    q = panel_query(model, title)
    return run(conn, expand(q.raw_sql, context(model, q, now, span)))
