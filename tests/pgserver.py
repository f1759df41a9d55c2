"""Stop and start the project's local PostgreSQL cluster from a test (as root, like CI).

Such tests stop the shared server: other test processes see it down meanwhile, so keep the
outage short and restart it in a `finally`.
"""

from __future__ import annotations

import os
import subprocess
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
