"""The same KPI over the same window is equal whoever reads it: one definition, many readers.

Each reader of the KPI layer adds itself to READERS: a name, the KPI cases it shows, and a
function returning the value it would display for a case. The API and Grafana issues append
theirs (an HTTP call to /api/v1/kpi, a dashboard panel's SQL) next to the ones below.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from api.kpi_reader import api_kpi_value
from grafana.kpi_reader import grafana_kpi_value
from report.seed import seed_week

from ioc import db
from ioc.kpi import kpi_value
from ioc.kpi.calendar import sync_calendar
from ioc.report.build import build_report
from ioc.report.week import Week

WEEK = Week.parse("2026-W18")


@dataclass
class Context:
    """What a reader may use: the database with the seeded week, and that week."""

    url: str
    conn: psycopg.Connection
    week: Week
    cache: dict[str, Any] = field(default_factory=dict)


Case = tuple[str, tuple[tuple[str, str], ...]]          # (kpi, filter items)
Reader = Callable[[Context, str, dict[str, str]], float | None]

CASES: list[Case] = [
    ("availability", (("system", "portal"),)),
    ("availability", (("system", "payments"),)),
    ("latency.p95", (("system", "portal"),)),
    ("slo.error_budget", (("system", "portal"),)),
    ("766.2.1", ()),
    ("766.3.3", ()),
    ("766.4.1", ()),
    ("recon.match_rate", ()),
]


def _sql(ctx: Context, kpi: str, filter: dict[str, str]) -> float | None:
    row = ctx.conn.execute("SELECT value FROM ioc_kpi(%s, %s, %s, %s::jsonb)",
                           (kpi, ctx.week.start, ctx.week.end, json.dumps(filter))).fetchone()
    return None if row is None else row[0]


def _python(ctx: Context, kpi: str, filter: dict[str, str]) -> float | None:
    return kpi_value(ctx.conn, kpi, ctx.week.start, ctx.week.end, filter)


def _report(ctx: Context, kpi: str, filter: dict[str, str]) -> float | None:
    if "report" not in ctx.cache:
        ctx.cache["report"] = build_report(ctx.conn, ctx.week, now=ctx.week.end)
    data = ctx.cache["report"]
    systems = {s["system"]: s for s in data["systems"]}
    indicators = {f"766.{i['id']}": i["value"] for i in data["indicators"]}
    field_of = {"availability": "availability", "latency.p95": "latency_p95",
                "slo.error_budget": "budget"}
    if kpi in field_of:
        return systems[filter["system"]][field_of[kpi]]
    if kpi == "recon.match_rate":
        return data["payments"]["match_rate"]
    return indicators[kpi]


def _api(ctx: Context, kpi: str, filter: dict[str, str]) -> float | None:
    return api_kpi_value(ctx.url, kpi, ctx.week.start, ctx.week.end, filter, ctx.cache)


def _grafana(ctx: Context, kpi: str, filter: dict[str, str]) -> float | None:
    return grafana_kpi_value(ctx.conn, kpi, ctx.week.start, ctx.week.end, filter)


# name -> (cases shown, reader); None = every case
READERS: dict[str, tuple[set[str] | None, Reader]] = {
    "sql": (None, _sql),
    "read_kpi": (None, _python),
    "report": ({"availability", "latency.p95", "slo.error_budget", "766.2.1", "766.3.3",
                "766.4.1", "recon.match_rate"}, _report),
    "api": (None, _api),
    "grafana": (None, _grafana),
}


@pytest.fixture(scope="module")
def ctx(make_db: Callable[[], str]) -> Iterator[Context]:
    url = make_db()
    with db.connect(url) as conn:
        sync_calendar(conn)
        seed_week(conn)
        yield Context(url, conn, WEEK)


PAIRS = [(name, case) for name, (shown, _) in READERS.items() for case in CASES
         if shown is None or case[0] in shown]


@pytest.mark.parametrize(("reader", "case"), PAIRS,
                         ids=[f"{n}-{c[0]}-{dict(c[1])}" for n, c in PAIRS])
def test_every_reader_shows_the_same_value(ctx: Context, reader: str, case: Case) -> None:
    kpi, items = case
    expected = _sql(ctx, kpi, dict(items))
    got = READERS[reader][1](ctx, kpi, dict(items))
    assert got == expected        # to the last digit, unknown (None) included


def test_the_cases_are_not_all_unknown(ctx: Context) -> None:
    known = [c for c in CASES if _sql(ctx, c[0], dict(c[1])) is not None]
    assert len(known) >= 6
