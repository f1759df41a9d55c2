"""Every panel's and annotation's SQL, expanded as Grafana would, runs on seeded TimescaleDB
as the read-only ioc_grafana role and returns what its panel needs, for several windows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from .harness import PanelQuery, check, context, default_span, load_dashboards, queries
from .macros import QueryContext, leftover_dollars
from .seed import NOW

DASHBOARDS = load_dashboards()
QUERIES = [q for model in DASHBOARDS.values() for q in queries(model)]
# Time ranges to try, besides each dashboard's default; Grafana derives the interval from each.
SPANS = [timedelta(hours=1), timedelta(hours=6), timedelta(hours=24), timedelta(days=7)]


def test_every_dashboard_has_queries() -> None:
    assert len(DASHBOARDS) >= 1
    assert all(queries(m) for m in DASHBOARDS.values())


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.id)
def test_query_runs_and_has_the_right_shape(seeded: ConnectionPool, q: PanelQuery) -> None:
    model = DASHBOARDS[q.dashboard]
    contexts = [context(model, q, NOW, span)
                for span in sorted({*SPANS, default_span(model)})]

    def one(ctx: QueryContext) -> str | None:
        with seeded.connection() as conn:
            sql, problems = check(conn, q, ctx)
        leftovers = leftover_dollars(sql)
        if leftovers:
            problems.append(f"'$' left after expansion: {leftovers}")
        span = ctx.to_at - ctx.from_at
        return f"{span} / {ctx.interval}: {problems}\n{sql}" if problems else None

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(one, contexts) if f]
    assert not failures, "\n\n".join(failures)
