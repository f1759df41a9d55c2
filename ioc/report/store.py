"""Weekly reports in the database: versions, freezing on publication, what changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ioc.report.build import MIN_DOSSIERS, build_report
from ioc.report.render import render_html, render_pdf
from ioc.report.week import Week

# Figures that are not part of what a report says (they differ on every generation).
_VOLATILE = {"generated_at", "title"}


@dataclass(frozen=True)
class StoredReport:
    """One stored version of a weekly report."""

    id: int
    period: str
    language: str
    version: int
    data: dict[str, Any]
    html: str
    pdf: bytes | None
    changes: list[dict[str, Any]]
    published_at: datetime | None
    sent_at: datetime | None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Figures of a report as {dotted key: value}; systems and indicators keyed by name."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            if k not in _VOLATILE:
                out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            name = v.get("system") or v.get("id") or i if isinstance(v, dict) else i
            out.update(flatten(v, f"{prefix}{name}."))
    else:
        out[prefix.rstrip(".")] = round(data, 6) if isinstance(data, float) else data
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions' figures."""
    a, b = flatten(before), flatten(after)
    return [{"key": k, "before": a.get(k), "after": b.get(k)}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def latest(conn: psycopg.Connection, week: Week, language: str) -> StoredReport | None:
    """The newest stored version of a week's report in a language."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT id, period, language, version, data, html, pdf, changes, published_at, "
            "sent_at FROM reports WHERE kind = 'weekly' AND period = %s AND language = %s "
            "ORDER BY version DESC LIMIT 1", (str(week), language)).fetchone()
    return None if row is None else StoredReport(**row)


def generate(conn: psycopg.Connection, week: Week, *, now: datetime, language: str = "vi",
             title: str | None = None, pdf: bool = True,
             min_dossiers: int = MIN_DOSSIERS) -> StoredReport:
    """Build the report and store it as a new version, unless its figures equal the latest.

    A new version records the changes from the one before; published versions stay as they were.
    """
    data = build_report(conn, week, now=now, language=language, title=title,
                        min_dossiers=min_dossiers)
    prev = latest(conn, week, language)
    if prev is not None and not diff(prev.data, data) and (prev.pdf is not None or not pdf):
        return prev
    version = 1 if prev is None else prev.version + 1
    changes = [] if prev is None else diff(prev.data, data)
    html = render_html(data, version=version, changes=changes)
    body = render_pdf(html) if pdf else None
    row = conn.execute(
        """INSERT INTO reports (period, language, version, period_from, period_to, data, html,
                                pdf, changes, created_at)
           VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s::jsonb, %s) RETURNING id""",
        (str(week), language, version, week.start, week.end, json.dumps(data), html, body,
         json.dumps(changes), now)).fetchone()
    assert row is not None
    return StoredReport(int(row[0]), str(week), language, version, data, html, body, changes,
                        None, None)


def publish(conn: psycopg.Connection, report_id: int, now: datetime) -> None:
    """Freeze a version: from now on its content cannot change."""
    conn.execute("UPDATE reports SET published_at = %s WHERE id = %s AND published_at IS NULL",
                 (now, report_id))


def claim_sending(conn: psycopg.Connection, report_id: int, now: datetime,
                  recipients: list[str]) -> bool:
    """Mark a report as being sent; False when another process already did."""
    cur = conn.execute("UPDATE reports SET sent_at = %s, sent_to = %s "
                       "WHERE id = %s AND sent_at IS NULL", (now, recipients, report_id))
    return cur.rowcount == 1


def release_sending(conn: psycopg.Connection, report_id: int) -> None:
    """Undo a claim after a failed send so the next round retries."""
    conn.execute("UPDATE reports SET sent_at = NULL, sent_to = '{}' WHERE id = %s", (report_id,))
