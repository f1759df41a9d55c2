"""Stop and start PostgreSQL from a test (as root, like CI).

`pg_ctl` stops the project's shared local cluster: other test processes see it down meanwhile,
so keep the outage short and restart it in a `finally`. `PgCluster` (fixture `pg_cluster`)
runs a dedicated cluster instead, which a test may stop for as long as it likes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def pg_ctl(*args: str) -> None:
    data, binaries = os.environ.get("IOC_PG_DATA"), os.environ.get("IOC_PG_BIN")
    if not data or not binaries:
        pytest.fail("IOC_PG_DATA/IOC_PG_BIN are not set: this test stops and restarts the local "
                    "PostgreSQL cluster that scripts/setup.sh creates (.ioc/env); it cannot run "
                    "against an external database. Run it with scripts/test.", pytrace=False)
    log = str(Path(data).parent / "server.log")
    extra = ["-l", log, "-w"] if args[0] == "start" else ["-m", "fast", "-w"]
    done = subprocess.run(["runuser", "-u", "postgres", "--", f"{binaries}/pg_ctl", "-D", data,
                           *args, *extra], capture_output=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"pg_ctl {args[0]} failed ({done.returncode}): "
                    f"{(done.stdout + done.stderr).decode(errors='replace').strip()}. This test "
                    "stops and restarts the local cluster as root (runuser -u postgres).",
                    pytrace=False)


class PgCluster:
    """A PostgreSQL + TimescaleDB cluster of a test's own, on 127.0.0.1 and a free port.

    Tests that take the database away use one instead of the shared server, so other test
    processes never see an outage and the test does not depend on the shared server at all.
    The cluster runs as `postgres` (initdb refuses root), with trust authentication on
    127.0.0.1 only, and is torn down with its files by `close()`.
    """

    def __init__(self) -> None:
        binaries = os.environ.get("IOC_PG_BIN")
        if not binaries:
            pytest.fail("IOC_PG_BIN is not set: this test runs a PostgreSQL cluster of its own "
                        "with the binaries scripts/setup.sh uses (.ioc/env). Run it with "
                        "scripts/test.", pytrace=False)
        self.binaries = Path(binaries)
        # pytest's tmp_path is private to root; the server needs a directory it owns.
        self.root = Path(tempfile.mkdtemp(prefix="ioc-pgcluster-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/ioc"
        self.running = False

    def _run(self, *argv: str, timeout: float = 120) -> None:
        # The server keeps real time even when a test run fakes the clock (like the shared one).
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
        done = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True,
                              timeout=timeout, env=env)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            pytest.fail(f"{Path(argv[0]).name} {argv[1:3]} failed ({done.returncode}): "
                        f"{(done.stdout + done.stderr).decode(errors='replace').strip()}\n{log}",
                        pytrace=False)

    def create(self) -> PgCluster:
        """initdb, configure, start, and create the `ioc` database (not migrated)."""
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=trust",
                  "--no-sync")
        conf = (f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
                "max_connections = 60\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\nlog_min_messages = warning\n")
        with (self.data / "postgresql.conf").open("a") as f:  # root may write it
            f.write(conf)
        self.start()
        self._run(str(self.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "ioc")
        return self

    def start(self) -> None:
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-w", "-t", "60", "start")
        self.running = True

    def stop(self) -> None:
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                  "stop")
        self.running = False

    def close(self) -> None:
        try:
            if self.running:
                self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m",
                          "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    """A dedicated, running cluster with an empty `ioc` database, for one test module."""
    cluster = PgCluster()
    try:
        yield cluster.create()
    finally:
        cluster.close()
