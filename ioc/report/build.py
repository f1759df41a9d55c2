"""Gather a week's figures for the leaders' report, all read through the KPI layer (read_kpi)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from ioc.kpi import read_kpi
from ioc.report import lights
from ioc.report.incidents import week_incidents
from ioc.report.week import Week

SYSTEMS = ("portal", "payments", "documents")
INDICATORS = ("1.4", "2.1", "2.2", "3.3", "3.6", "4.1", "4.2", "5.4")
SLOWEST = 5


def _by(conn: psycopg.Connection, kpi: str, week: Week, key: str,
        filter: dict[str, str] | None = None) -> dict[str, float | None]:
    """KPI values keyed by one label."""
    return {str(r.labels.get(key, "")): r.value
            for r in read_kpi(conn, kpi, week.start, week.end, filter)}


def _one(conn: psycopg.Connection, kpi: str, week: Week,
         filter: dict[str, str] | None = None) -> float | None:
    rows = read_kpi(conn, kpi, week.start, week.end, filter)
    return rows[0].value if rows else None


def _objectives(conn: psycopg.Connection, week: Week) -> dict[tuple[str, str], float]:
    return {(r.labels["system"], r.labels["objective"]): r.value or 0.0
            for r in read_kpi(conn, "slo.objective", week.start, week.end)}


def _daily_availability(conn: psycopg.Connection, week: Week) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {s: [] for s in SYSTEMS}
    for _, start, end in week.days():
        values = {str(r.labels["system"]): r.value
                  for r in read_kpi(conn, "availability", start, end)}
        for s in SYSTEMS:
            out[s].append(values.get(s))
    return out


def systems_section(conn: psycopg.Connection, week: Week) -> list[dict[str, Any]]:
    """Availability and latency per system against its SLO, the error budget, last week."""
    objectives = _objectives(conn, week)
    avail = _by(conn, "availability", week, "system")
    prev = _by(conn, "availability", week.previous(), "system")
    p95 = _by(conn, "latency.p95", week, "system", {"by": "system"})
    budget = _by(conn, "slo.error_budget", week, "system")
    daily = _daily_availability(conn, week)
    out = []
    for s in SYSTEMS:
        objective = objectives.get((s, "availability"), 0.995)
        latency_objective = objectives.get((s, "latency_ms"), 2000.0)
        out.append({
            "system": s, "availability": avail.get(s), "availability_prev": prev.get(s),
            "objective": objective, "budget": budget.get(s), "latency_p95": p95.get(s),
            "latency_objective": latency_objective, "daily": daily[s],
            "light_availability": lights.availability_light(avail.get(s), objective),
            "light_latency": lights.latency_light(p95.get(s), latency_objective),
        })
    return out


def indicators_section(conn: psycopg.Connection, week: Week) -> list[dict[str, Any]]:
    """The Decision 766 indicators: rate, score out of the maximum, and last week's rate."""
    now = {r.labels["indicator"]: r for r in read_kpi(conn, "score.decision766", week.start,
                                                      week.end)}
    prev = {r.labels["indicator"]: r for r in read_kpi(conn, "score.decision766",
                                                       week.previous().start, week.start)}
    values = {i: _one(conn, f"766.{i}", week) for i in INDICATORS}
    out = []
    for i in INDICATORS:
        row, before = now.get(i), prev.get(i)
        max_score = row.denominator if row and row.denominator else 0.0
        out.append({
            "id": i, "value": values[i], "rate": row.numerator if row else None,
            "rate_prev": before.numerator if before else None,
            "score": row.value if row else None, "score_prev": before.value if before else None,
            "max": max_score,
            "light": lights.score_light(row.value if row else None, max_score),
        })
    return out


def payments_section(conn: psycopg.Connection, week: Week) -> dict[str, Any]:
    """Payment success by intermediary and reconciliation: match rate, breaks, amount, age, and
    the transactions still awaiting their files (neither matched nor broken)."""
    match = _one(conn, "recon.match_rate", week)
    return {
        "success_rate": _by(conn, "payments.success_rate", week, "intermediary"),
        "settlement_lag": _by(conn, "payments.settlement_lag", week, "intermediary"),
        "match_rate": match,
        "match_rate_prev": _one(conn, "recon.match_rate", week.previous()),
        "breaks": {k: v for k, v in _by(conn, "recon.open_breaks", week, "kind").items()
                   if k and v},
        "unmatched_amount": _one(conn, "recon.unmatched_amount", week),
        "oldest_break_days": _one(conn, "recon.break_age", week),
        "pending": _one(conn, "recon.pending", week),
        "light": lights.ratio_light(match, 1.0, 0.01),
    }


def documents_section(conn: psycopg.Connection, week: Week) -> dict[str, Any]:
    return {k: _one(conn, f"documents.{k}", week)
            for k in ("signing_rate", "electronic_rate", "national_axis_rate", "overdue")}


def slowest_section(conn: psycopg.Connection, week: Week) -> dict[str, list[dict[str, Any]]]:
    """Procedures with the longest mean processing time; agencies with the lowest on-time rate."""
    procs = [r for r in read_kpi(conn, "766.2.2", week.start, week.end, {"by": "procedure"})
             if r.value is not None]
    procs.sort(key=lambda r: (-(r.value or 0.0), r.labels["procedure"]))
    agencies = [r for r in read_kpi(conn, "766.2.1", week.start, week.end, {"by": "agency"})
                if r.value is not None]
    agencies.sort(key=lambda r: (r.value or 0.0, r.labels["agency"]))
    procs, agencies = procs[:SLOWEST], agencies[:SLOWEST]
    names = _names(conn, [r.labels["procedure"] for r in procs],
                   [r.labels["agency"] for r in agencies])
    return {
        "procedures": [{"procedure": r.labels["procedure"], "days": r.value,
                        "name": names[0].get(r.labels["procedure"]),
                        "count": r.denominator} for r in procs],
        "agencies": [{"agency": r.labels["agency"], "rate": r.value,
                      "name": names[1].get(r.labels["agency"]),
                      "late": (r.denominator or 0) - (r.numerator or 0),
                      "total": r.denominator} for r in agencies],
    }


def _names(conn: psycopg.Connection, procedures: list[str],
           agencies: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Catalogue names of procedure and agency codes (absent when the catalogue lacks them).

    The names come from ioc_procedure_name / ioc_agency_name, as on the dashboards; they answer
    the code itself for an unknown code, which here means "no name"."""
    rows = conn.execute(
        "SELECT 'p', c, ioc_procedure_name(c) FROM unnest(%s::text[]) c"
        " UNION ALL SELECT 'a', c, ioc_agency_name(c) FROM unnest(%s::text[]) c",
        (procedures, agencies)).fetchall()
    named = [(k, c, n) for k, c, n in rows if n != c]
    return ({c: n for k, c, n in named if k == "p"}, {c: n for k, c, n in named if k == "a"})


def build_report(conn: psycopg.Connection, week: Week, *, now: datetime,
                 language: str = "vi", title: str | None = None) -> dict[str, Any]:
    """Every figure of the weekly report as plain JSON-able data (stored with the report)."""
    systems = systems_section(conn, week)
    indicators = indicators_section(conn, week)
    payments = payments_section(conn, week)
    summary = [s["light_availability"] for s in systems] + [s["light_latency"] for s in systems]
    summary += [i["light"] for i in indicators] + [payments["light"]]
    scored = [i for i in indicators if i["score"] is not None]
    return {
        "week": str(week), "from": week.start.isoformat(), "to": week.end.isoformat(),
        "language": language, "title": title, "generated_at": now.isoformat(),
        "light": lights.worst(summary),
        "score_total": sum(i["score"] for i in scored) if scored else None,
        "score_max": sum(i["max"] for i in indicators),
        "systems": systems, "indicators": indicators, "payments": payments,
        "documents": documents_section(conn, week),
        "incidents": week_incidents(conn, week.start, week.end),
        "slowest": slowest_section(conn, week),
    }
