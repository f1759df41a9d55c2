"""A database seeded once for the dashboard tests, reached through a small pool."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from psycopg_pool import ConnectionPool

from ioc.grafana.cli import load_inventory

from .seed import seed


@pytest.fixture(scope="session")
def seeded(make_db: Callable[[], str]) -> Iterator[ConnectionPool]:
    """Two connections to a database holding a week of every kind of data up to seed.NOW."""
    url = make_db()
    seed(url, load_inventory())
    with ConnectionPool(url, min_size=2, max_size=2, open=True) as pool:
        yield pool
