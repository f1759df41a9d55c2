"""A real highly available cluster for the tests: etcd and two PostgreSQL nodes under Patroni
(synchronous replication), on loopback ports of its own, torn down with its files."""

from __future__ import annotations

import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc import db, migrate
from ioc.ha import HaCluster


def free_block(count: int) -> int:
    """The first of `count` consecutive TCP ports free on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


@pytest.fixture(scope="module")
def ha() -> Iterator[HaCluster]:
    """A running two-node cluster with a migrated `ioc` database."""
    if shutil.which("patroni") is None or shutil.which("etcd") is None:
        pytest.fail("patroni and etcd are not installed: run scripts/setup.sh (it installs "
                    "Debian's patroni and etcd-server).", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="ioc-ha-"))
    shutil.chown(root, "postgres", "postgres")  # the servers run as postgres
    # fsync off: a kill -9 of PostgreSQL does not lose the page cache, and the loaded test
    # machine is spared the flushes; synchronous replication is what the tests exercise.
    cluster = HaCluster(root / "cluster", nodes=2, pg_port=free_block(2),
                        api_port=free_block(2), etcd_port=free_block(2),
                        parameters={"fsync": "off"})
    try:
        cluster.start()
        with db.connect(cluster.url()) as conn:
            migrate.migrate(conn)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
