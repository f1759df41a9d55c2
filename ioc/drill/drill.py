"""`run_drill`: play the script, then judge every check (`ioc.drill.checks`, `ioc.drill.kpis`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ioc import db
from ioc.drill import checks, kpis
from ioc.drill.run import DrillOptions, DrillRefused, Evidence, engine_verdict, foreign_data, play
from ioc.drill.script import NOT_DRILLED
from ioc.drill.verdict import Verdict
from ioc.report.build import build_report
from ioc.report.week import Week


def run_drill(url: str, options: DrillOptions, workdir: Path) -> list[Verdict]:
    """Run the drill against the database at `url` (migrated); `workdir` holds its config,
    spool and the alert engine's log. Raises DrillRefused on a database with other data
    unless `options.force`."""
    if not options.force:
        found = foreign_data(url)
        if found:
            raise DrillRefused("the database holds data that is not the drill's ("
                               + ", ".join(found) + "); use a fresh database or --force")
    evidence = asyncio.run(play(url, options, workdir))
    return judge(evidence)


def judge(ev: Evidence) -> list[Verdict]:
    """Every verdict of the drill, in table order."""
    with db.connect(ev.url) as conn:
        conn.execute("SELECT ioc_rollup_run()")
        found = checks.episodes(conn, ev.started_at)
        out = [engine_verdict(ev)]
        for played in sorted(ev.played, key=lambda p: p.started_at):
            out.append(checks.probe_verdict(conn, played))
            out.extend(checks.alert_verdicts(played, found))
        out.append(checks.unexpected_verdict(ev, found))
        out.extend(Verdict(f"{kind}: not drilled", "-", why, None) for kind, why in NOT_DRILLED)
        out.extend(checks.notification_verdicts(conn, ev, found))
        out.extend(checks.sample_verdicts(conn, ev))
        week = Week.containing(ev.started_at)
        assert ev.finished_at is not None
        report = build_report(conn, week, now=ev.finished_at)
        out.extend(checks.report_verdicts(report, ev, found))
        out.extend(kpis.kpi_verdicts({
            "sql": lambda: kpis.sql_values(conn, week),
            "api": lambda: kpis.api_values(ev.url, week),
            "report": lambda: kpis.report_values(report),
            "grafana": lambda: kpis.grafana_values(conn, ev.config, week),
        }))
    return out
