"""ioc_kpi keeps custom plans on pooled connections (generic plans lose chunk exclusion)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc import db


def test_kpi_entry_point_forces_custom_plans(db_url: str) -> None:
    with db.connect(db_url) as conn:
        row = conn.execute(
            "SELECT proconfig FROM pg_proc WHERE proname = 'ioc_kpi'").fetchone()
        assert row is not None and "plan_cache_mode=force_custom_plan" in (row[0] or [])
        # and the setting is scoped to the call: the session keeps its own value
        end = datetime(2026, 11, 20, tzinfo=UTC)
        for _ in range(7):
            conn.execute("SELECT * FROM ioc_kpi('availability', %s, %s)",
                         (end - timedelta(days=7), end)).fetchall()
        mode = conn.execute("SHOW plan_cache_mode").fetchone()
    assert mode == ("auto",)
