"""Failover of the highly available database (ioc/ha.py: Patroni, etcd, two PostgreSQL nodes,
synchronous replication), over N trials.

Each trial: a writer inserts numbered rows through the multi-host URL as fast as it can (one
autocommit INSERT each, so every acknowledged row is a committed sample); the primary is killed
with -9 (Patroni, postmaster and backends); the writer reconnects until a write is accepted
again; the old primary is restarted and rejoins (pg_rewind). Reported per trial: seconds from
the kill until a write is accepted, acknowledged rows missing afterwards (lost) and rows stored
more than once (duplicated), and seconds until the old primary streams again.

    .venv/bin/python bench/bench_ha.py --trials 10
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from ioc.ha import HaCluster


class Writer(threading.Thread):
    def __init__(self, url: str, start_id: int) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.next_id = start_id
        self.acked: list[int] = []
        self.ok_times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        conn: psycopg.Connection | None = None
        while not self.stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                started = time.monotonic()  # a write counts from when it was sent
                conn.execute("INSERT INTO bench_ha (id) VALUES (%s)", (self.next_id,))
                self.acked.append(self.next_id)
                self.ok_times.append(started)
                self.next_id += 1
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None
                self.next_id += 1  # unacknowledged: it may or may not be stored
                time.sleep(0.05)
        if conn is not None:
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--pg-port", type=int, default=56020)
    parser.add_argument("--api-port", type=int, default=56070)
    parser.add_argument("--etcd-port", type=int, default=23794)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ioc-bench-ha-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = HaCluster(root / "cluster", pg_port=args.pg_port, api_port=args.api_port,
                        etcd_port=args.etcd_port)
    rows = []
    try:
        cluster.start()
        url = cluster.url()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_ha (id bigint PRIMARY KEY,"
                         " at timestamptz DEFAULT clock_timestamp())")
        next_id = 1
        for trial in range(1, args.trials + 1):
            writer = Writer(url, next_id)
            writer.start()
            time.sleep(2)
            old = cluster.primary()
            assert old is not None
            cluster.kill_node(old)
            killed = time.monotonic()  # everything of the old primary is dead now
            while not writer.ok_times or writer.ok_times[-1] < killed:
                time.sleep(0.05)
            accepted = next(t for t in writer.ok_times if t > killed) - killed
            cluster.wait_primary(60, other_than=old)  # before the old one may come back
            time.sleep(1)
            writer.stop.set()
            writer.join()
            next_id = writer.next_id
            rejoin = time.monotonic()
            cluster.start_node(old)
            cluster.wait_replicas(1, 180)
            rejoined = time.monotonic() - rejoin
            with psycopg.connect(url, autocommit=True) as conn:
                found = conn.execute("SELECT count(*) FROM bench_ha WHERE id = ANY(%s)",
                                     (writer.acked,)).fetchone()
                dup = conn.execute("SELECT count(*) - count(DISTINCT id) FROM bench_ha"
                                   ).fetchone()
            lost = len(writer.acked) - (found[0] if found else 0)
            rows.append((trial, accepted, len(writer.acked), lost, dup[0] if dup else 0,
                         rejoined))
            print(f"trial {trial:2d}: node{old} killed; writes accepted after {accepted:5.1f} s;"
                  f" {len(writer.acked):5d} acknowledged rows, lost {lost}, duplicated "
                  f"{rows[-1][4]}; old primary streams again after {rejoined:4.1f} s",
                  flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    times = [r[1] for r in rows]
    print(f"writes accepted after the kill: median {statistics.median(times):.1f} s, "
          f"max {max(times):.1f} s; lost {sum(r[3] for r in rows)}, duplicated "
          f"{sum(r[4] for r in rows)} over {len(rows)} trials")


if __name__ == "__main__":
    main()
