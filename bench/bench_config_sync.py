"""Benchmark: what writing the config's copy in the database costs (ioc.config_sync).

On a scratch database migrated from nothing, with the example config (config/):
  - the first sync (every table written; the process builds the 2000-2040 calendar once),
  - a sync in a new process's first call when the database already agrees (calendar built,
    nothing written),
  - a no-op sync (nothing changed), p50/p95 of 200 runs: what every reload and start pays.
Run: IOC_DATABASE_URL=... .venv/bin/python bench/bench_config_sync.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from pathlib import Path

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ioc import db, migrate
from ioc.config import load_config
from ioc.config_sync import sync_config
from ioc.kpi import calendar

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    server = os.environ["IOC_DATABASE_URL"]
    name = f"ioc_bench_sync_{uuid.uuid4().hex[:8]}"
    with db.connect(server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo("", **{**conninfo_to_dict(server), "dbname": name})
    config = load_config(ROOT / "config")
    try:
        with db.connect(url) as conn:
            migrate.migrate(conn)
            started = time.perf_counter()
            first = sync_config(conn, config)
            print(f"first sync: {(time.perf_counter() - started) * 1e3:.0f} ms ({first})")
            calendar._built.cache_clear()  # as a new process would start
            started = time.perf_counter()
            again = sync_config(conn, config)
            print(f"first call of a new process, database agreeing: "
                  f"{(time.perf_counter() - started) * 1e3:.0f} ms ({again})")
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                result = sync_config(conn, config)
                times.append((time.perf_counter() - started) * 1e3)
                assert not result.changed, result
            times.sort()
            print(f"no-op sync, {args.runs} runs: p50 {statistics.median(times):.1f} ms, "
                  f"p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms")
    finally:
        with db.connect(server) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


if __name__ == "__main__":
    main()
