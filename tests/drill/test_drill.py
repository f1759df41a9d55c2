"""The fault drill at reduced scale: every verdict passes and the table covers every check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from ioc import db
from ioc.config import load_config
from ioc.drill import NOT_DRILLED, DrillOptions, DrillRefused, drill_script, format_table, run_drill
from ioc.drill.kpis import PANELS, expand_time_macros, panel_sql
from ioc.drill.script import FULL, sections, write_config
from tests.grafana.macros import QueryContext, expand

REDUCED_KINDS = {"outage", "hang", "error_rate", "latency", "garbage"}


def test_reduced_drill_passes_every_check(fresh_db_url: str, tmp_path: Path) -> None:
    verdicts = run_drill(fresh_db_url, DrillOptions(reduced=True), tmp_path)
    table = format_table(verdicts)
    print(table)
    assert [v.check for v in verdicts if v.ok is False] == [], table
    checks = [v.check for v in verdicts]
    steps, _ = drill_script(reduced=True)
    assert {s.kind for s in steps} == REDUCED_KINDS
    for step in steps:
        for what in ("probes", "alert fired", "alert resolved"):
            assert f"{step.kind} {step.target}: {what}" in checks, (step, what)
        assert f"notifications: {step.rule}/{step.target}" in checks
        assert f"report: {step.rule}/{step.target} duration" in checks
    for check in ("alert engine process", "no other alert fired",
                  "notifications: each key delivered once", "samples: count in = stored",
                  "samples: rows written = stored", "report: incidents listed",
                  "KPI availability portal: readers agree",
                  "KPI availability payments: readers agree",
                  "KPI availability documents: readers agree", "KPI 766.2.1: readers agree"):
        assert check in checks, check
    not_made = {v.check: v.observed for v in verdicts if v.ok is None}
    assert set(not_made) == {f"{kind}: not drilled" for kind, _ in NOT_DRILLED}
    assert all(why for why in not_made.values())
    assert table.splitlines()[-len(NOT_DRILLED) - 1].endswith("DRILL PASSED")
    kpi_rows = [v for v in verdicts if v.check.startswith("KPI ")]
    assert all("None" not in v.expected for v in kpi_rows), kpi_rows


def test_drill_refuses_a_database_with_other_data(fresh_db_url: str, tmp_path: Path) -> None:
    with db.connect(fresh_db_url) as conn:
        conn.execute("INSERT INTO targets (id, system, kind, name, labels, interval_s)"
                     " VALUES ('portal-health', 'portal', 'http', 'x', '{}', 15)")
    with pytest.raises(DrillRefused, match="1 targets"):
        run_drill(fresh_db_url, DrillOptions(reduced=True), tmp_path)
    with db.connect(fresh_db_url) as conn:  # nothing touched
        rows = conn.execute("SELECT id FROM targets").fetchall()
    assert rows == [("portal-health",)]


def test_ioc_drill_command_refuses_without_force(fresh_db_url: str, tmp_path: Path) -> None:
    with db.connect(fresh_db_url) as conn:
        conn.execute("INSERT INTO targets (id, system, kind, name, labels, interval_s)"
                     " VALUES ('other', 'portal', 'http', 'x', '{}', 15)")
    out = tmp_path / "v.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ioc.cli", "drill", "--reduced", "--out", str(out)],
        env={**os.environ, "IOC_DATABASE_URL": fresh_db_url}, capture_output=True, text=True,
        timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "not the drill's" in proc.stderr and "--force" in proc.stderr
    secret = conninfo_to_dict(fresh_db_url).get("password")
    assert not secret or str(secret) not in proc.stderr
    assert not out.exists()


def test_panel_expansion_is_the_grafana_harness_expansion(tmp_path: Path) -> None:
    urls = {s: f"http://127.0.0.1:{9000 + i}" for i, s in
            enumerate(("portal", "payments", "documents"))}
    config = load_config(write_config(tmp_path, sections(FULL, urls, "http://127.0.0.1:1/hook",
                                                         "http://127.0.0.1:9")))
    start = datetime(2026, 5, 3, 17, 0, tzinfo=UTC)
    end = start + timedelta(days=7, microseconds=250000)
    for kpi in PANELS:
        raw = panel_sql(config, kpi)
        harness = expand(raw, QueryContext(start, end, timedelta(minutes=1)))
        assert expand_time_macros(raw, start, end) == harness, kpi
    with pytest.raises(ValueError, match="macro"):
        expand_time_macros("SELECT $__timeFilter(time)", start, end)


def test_script_covers_every_probe_fault_kind_once_per_target() -> None:
    steps, minutes = drill_script(reduced=False)
    assert {s.kind for s in steps} == {"outage", "hang", "error_rate", "latency", "garbage",
                                       "oversized", "slow_drip"}
    assert len({s.target for s in steps}) == len(steps)
    assert all(s.start_min + s.duration_min <= minutes for s in steps)
    assert json.loads(json.dumps(steps[0].fault(60)))["duration"] == "5000ms"
