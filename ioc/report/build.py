"""Gather a week's figures for the leaders' report, all read through the KPI layer (read_kpi)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from ioc.kpi import read_kpi
from ioc.report import lights
from ioc.report.incidents import week_incidents
from ioc.report.texts import intermediary_name
from ioc.report.week import Week

SYSTEMS = ("portal", "payments", "documents")
INDICATORS = ("1.4", "2.1", "2.2", "3.3", "3.6", "4.1", "4.2", "5.4")
SLOWEST = 5
# A procedure or agency is ranked among the slowest only with at least this many dossiers in the
# week (completed dossiers for procedures, judged ones for agencies): one late dossier of a rare
# procedure says little. Config `report.slowest_min_dossiers`, `ioc report weekly --min-dossiers`.
MIN_DOSSIERS = 5


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
    p95_prev = _by(conn, "latency.p95", week.previous(), "system", {"by": "system"})
    budget = _by(conn, "slo.error_budget", week, "system")
    daily = _daily_availability(conn, week)
    out = []
    for s in SYSTEMS:
        objective = objectives.get((s, "availability"), 0.995)
        latency_objective = objectives.get((s, "latency_ms"), 2000.0)
        out.append({
            "system": s, "availability": avail.get(s), "availability_prev": prev.get(s),
            "objective": objective, "budget": budget.get(s), "latency_p95": p95.get(s),
            "latency_p95_prev": p95_prev.get(s),
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
    values_prev = {i: _one(conn, f"766.{i}", week.previous()) for i in INDICATORS}
    out = []
    for i in INDICATORS:
        row, before = now.get(i), prev.get(i)
        max_score = row.denominator if row and row.denominator else 0.0
        out.append({
            "id": i, "value": values[i], "value_prev": values_prev[i],
            "rate": row.numerator if row else None,
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
    success = _by(conn, "payments.success_rate", week, "intermediary")
    before = _by(conn, "payments.success_rate", week.previous(), "intermediary")
    lag = _by(conn, "payments.settlement_lag", week, "intermediary")
    return {
        "intermediaries": [{"intermediary": k, "name": intermediary_name(k),
                            "success_rate": v, "success_rate_prev": before.get(k),
                            "settlement_lag": lag.get(k)} for k, v in success.items()],
        "match_rate": match,
        "match_rate_prev": _one(conn, "recon.match_rate", week.previous()),
        "breaks": {k: v for k, v in _by(conn, "recon.open_breaks", week, "kind").items()
                   if k and v},
        "unmatched_amount": _one(conn, "recon.unmatched_amount", week),
        "oldest_break_days": _one(conn, "recon.break_age", week),
        "pending": _one(conn, "recon.pending", week),
        "light": lights.ratio_light(match, 1.0, 0.01),
    }


DOCUMENT_FIGURES = ("signing_rate", "electronic_rate", "national_axis_rate", "overdue")


def documents_section(conn: psycopg.Connection, week: Week) -> dict[str, Any]:
    """The document figures, each with last week's (`<figure>_prev`)."""
    out: dict[str, Any] = {}
    for k in DOCUMENT_FIGURES:
        out[k] = _one(conn, f"documents.{k}", week)
        out[f"{k}_prev"] = _one(conn, f"documents.{k}", week.previous())
    return out


def slowest_section(conn: psycopg.Connection, week: Week, *,
                    min_dossiers: int = MIN_DOSSIERS) -> dict[str, Any]:
    """The slowest procedures and the agencies with the lowest on-time rate, last week beside.

    Procedures are ranked by their mean processing time (766.2.2 by procedure, working days)
    against the time the law allows them (the catalogue's `deadline_days`, working days): 120 %
    means a dossier took on average a fifth longer than allowed. Procedures missing from the
    catalogue have no allowed time and come after, by their days. Only procedures with at least
    `min_dossiers` completed dossiers and agencies with at least `min_dossiers` judged dossiers
    are ranked.
    """
    prev = week.previous()
    procs = _slow_procedures(conn, week, min_dossiers)
    procs_prev = {p["procedure"]: p for p in _slow_procedures(conn, prev, 1)}
    agencies = [r for r in read_kpi(conn, "766.2.1", week.start, week.end, {"by": "agency"})
                if r.value is not None and (r.denominator or 0) >= min_dossiers]
    agencies.sort(key=lambda r: (r.value or 0.0, r.labels["agency"]))
    agencies = agencies[:SLOWEST]
    before = _by(conn, "766.2.1", prev, "agency", {"by": "agency"})
    names = _agency_names(conn, [r.labels["agency"] for r in agencies])
    return {
        "min_dossiers": min_dossiers,
        "procedures": [{**p, "days_prev": procs_prev.get(p["procedure"], {}).get("days"),
                        "ratio_prev": procs_prev.get(p["procedure"], {}).get("ratio")}
                       for p in procs[:SLOWEST]],
        "agencies": [{"agency": r.labels["agency"], "rate": r.value,
                      "name": names.get(r.labels["agency"]),
                      "late": (r.denominator or 0) - (r.numerator or 0),
                      "total": r.denominator,
                      "rate_prev": before.get(r.labels["agency"])} for r in agencies],
    }


def _slow_procedures(conn: psycopg.Connection, week: Week,
                     min_dossiers: int) -> list[dict[str, Any]]:
    """Every procedure with enough completed dossiers, slowest against its allowed time first."""
    rows = [r for r in read_kpi(conn, "766.2.2", week.start, week.end, {"by": "procedure"})
            if r.value is not None and (r.denominator or 0) >= min_dossiers]
    codes = [r.labels["procedure"] for r in rows]
    catalogue = {c: (n, d) for c, n, d in conn.execute(
        "SELECT code, name, deadline_days::float8 FROM procedures WHERE code = ANY(%s)",
        (codes,)).fetchall()}
    out = []
    for r in rows:
        name, allowed = catalogue.get(r.labels["procedure"], (None, None))
        days = r.value or 0.0
        out.append({"procedure": r.labels["procedure"], "name": name, "days": r.value,
                    "allowed_days": allowed, "count": r.denominator,
                    "ratio": days / allowed if allowed else None})
    out.sort(key=lambda p: (p["ratio"] is None, -(p["ratio"] or 0.0), -p["days"],
                            p["procedure"]))
    return out


def _agency_names(conn: psycopg.Connection, agencies: list[str]) -> dict[str, str]:
    """Catalogue names of agency codes (absent when the catalogue lacks them).

    The names come from ioc_agency_name, as on the dashboards; it answers the code itself for an
    unknown code, which here means "no name"."""
    rows = conn.execute("SELECT c, ioc_agency_name(c) FROM unnest(%s::text[]) c",
                        (agencies,)).fetchall()
    return {c: n for c, n in rows if n != c}


def build_report(conn: psycopg.Connection, week: Week, *, now: datetime,
                 language: str = "vi", title: str | None = None,
                 min_dossiers: int = MIN_DOSSIERS) -> dict[str, Any]:
    """Every figure of the weekly report as plain JSON-able data (stored with the report)."""
    if min_dossiers < 1:
        raise ValueError(f"min_dossiers must be at least 1, not {min_dossiers}")
    systems = systems_section(conn, week)
    indicators = indicators_section(conn, week)
    payments = payments_section(conn, week)
    scored_prev = [i for i in indicators if i["score_prev"] is not None]
    summary = [s["light_availability"] for s in systems] + [s["light_latency"] for s in systems]
    summary += [i["light"] for i in indicators] + [payments["light"]]
    scored = [i for i in indicators if i["score"] is not None]
    return {
        "week": str(week), "from": week.start.isoformat(), "to": week.end.isoformat(),
        "language": language, "title": title, "generated_at": now.isoformat(),
        "light": lights.worst(summary),
        "score_total": sum(i["score"] for i in scored) if scored else None,
        "score_total_prev": sum(i["score_prev"] for i in scored_prev) if scored_prev else None,
        "score_max": sum(i["max"] for i in indicators),
        "systems": systems, "indicators": indicators, "payments": payments,
        "documents": documents_section(conn, week),
        "incidents": week_incidents(conn, week.start, week.end),
        "slowest": slowest_section(conn, week, min_dossiers=min_dossiers),
    }
