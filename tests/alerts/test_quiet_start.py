"""`ioc demo` on a healthy simulated province pages nobody: not at its first start on a fresh
database, and not when it is stopped and started again after a gap longer than the collector
heartbeat's `after` (1 minute). Two minutes of running in all, with config/ as shipped."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from ioc import db
from tests.demo.support import Demo

RUN_S = 60  # each of the two runs: two minutes of a healthy province in all
GAP_S = 62  # longer than collector-heartbeat's `after`: its last beat is stale at the restart


def _alerts(url: str) -> tuple[list[tuple[str, str, str, str]], int]:
    """Every alert transition (rule, series, from, to) and every notification in the outbox."""
    with db.connect(url) as conn:
        transitions = conn.execute(
            "SELECT a.rule_id, coalesce(a.labels->>'target', a.labels->>'instance', ''),"
            " t.from_state, t.to_state FROM alert_transitions t JOIN alerts a USING"
            " (fingerprint) ORDER BY t.id").fetchall()
        row = conn.execute("SELECT count(*) FROM notifications").fetchone()
    return [tuple(r) for r in transitions], int(row[0]) if row else 0


def _run(url: str, tmp_path: Path) -> None:
    demo = Demo.start(url, tmp_path)
    try:
        demo.wait_live()
        time.sleep(RUN_S)
        assert demo.proc.poll() is None, demo.output()[-3000:]
        assert demo.stop(signal.SIGTERM) == 0, demo.output()[-3000:]
    finally:
        demo.kill()


@pytest.mark.slow
def test_a_healthy_province_pages_nobody_across_a_restart(fresh_db_url: str,
                                                          tmp_path: Path) -> None:
    _run(fresh_db_url, tmp_path)
    with db.connect(fresh_db_url) as conn:
        beats = conn.execute("SELECT count(*), max(seen_at) FROM collector_heartbeats"
                             ).fetchone()
        probes = conn.execute("SELECT count(*) FILTER (WHERE ok), count(*) FROM probe_results"
                              " WHERE target_id LIKE '%-health'").fetchone()
    assert beats is not None and beats[0] == 1
    assert probes is not None and probes[0] == probes[1] >= 3 * 8  # healthy, every 5 s
    assert _alerts(fresh_db_url) == ([], 0)
    time.sleep(GAP_S)
    _run(fresh_db_url, tmp_path)
    with db.connect(fresh_db_url) as conn:
        engine = conn.execute("SELECT started_at FROM alert_engine_heartbeats").fetchone()
        restarted = conn.execute("SELECT started_at FROM collector_heartbeats").fetchone()
    # the second engine started with the collector's last beat more than a minute old
    assert engine is not None and (engine[0] - beats[1]).total_seconds() > 60
    assert restarted is not None and restarted[0] > beats[1]
    assert _alerts(fresh_db_url) == ([], 0)
