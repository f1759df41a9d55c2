"""Every panel's and annotation's SQL, expanded as Grafana would, runs on seeded TimescaleDB
as the read-only ioc_grafana role and returns what its panel needs, for several windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from ioc.grafana.cli import load_inventory

from .harness import PanelQuery, check, context, load_dashboards, queries
from .macros import leftover_dollars
from .seed import NOW, seed

DASHBOARDS = load_dashboards()
QUERIES = [q for model in DASHBOARDS.values() for q in queries(model)]
WINDOWS = [  # (span, interval): Grafana's interval grows with the range
    (timedelta(hours=1), timedelta(seconds=15)),
    (timedelta(hours=6), timedelta(seconds=90)),
    (timedelta(hours=24), timedelta(minutes=5)),
    (timedelta(days=7), timedelta(hours=1)),
]


@pytest.fixture(scope="module")
def seeded_url(make_db: Callable[[], str]) -> str:
    url = make_db()
    seed(url, load_inventory())
    return url


def test_every_dashboard_has_queries() -> None:
    assert len(DASHBOARDS) >= 1
    assert all(queries(m) for m in DASHBOARDS.values())


@pytest.mark.parametrize("q", QUERIES, ids=lambda q: q.id)
def test_query_runs_and_has_the_right_shape(seeded_url: str, q: PanelQuery) -> None:
    failures = []
    for span, interval in WINDOWS:
        sql, problems = check(seeded_url, q, context(DASHBOARDS[q.dashboard], NOW, span,
                                                       interval))
        leftovers = leftover_dollars(sql)
        if leftovers:
            problems.append(f"'$' left after expansion: {leftovers}")
        if problems:
            failures.append(f"{span} / {interval}: {problems}\n{sql}")
    assert not failures, "\n\n".join(failures)
